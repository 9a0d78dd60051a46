"""Pages of the admin area (being built)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")
