from flask import Blueprint

bp = Blueprint("audit", __name__)


@bp.get("/audit")
def index():
    return "audit"
