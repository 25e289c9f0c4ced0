from flask import Blueprint

bp = Blueprint("staff", __name__)


@bp.get("/team")
def index():
    return "team"
