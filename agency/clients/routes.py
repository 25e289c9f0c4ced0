from flask import Blueprint

bp = Blueprint("clients", __name__)


@bp.get("/clients")
def index():
    return "clients"
