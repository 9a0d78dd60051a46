"""Pages of the dashboard area (being built)."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="templates")
