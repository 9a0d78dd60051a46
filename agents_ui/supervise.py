"""Pages of the supervise area (being built)."""

from flask import Blueprint

bp = Blueprint("supervise", __name__, template_folder="templates")
