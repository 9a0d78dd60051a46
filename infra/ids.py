"""Row ids in URLs and bodies are bounded to what the database can hold.

`/api/tickets/99999999999999999999` reached SQLite as a number beyond its INTEGER
("Python int too large to convert to SQLite INTEGER") and came back as a 500; PostgreSQL's
`integer` columns stop even earlier, at 2**31 - 1. No row has a larger id, so a larger
number names nothing: in a path it is the same 404 as an unknown id, in a body a 422.
"""

from typing import Annotated
from typing import Any

from pydantic import Field
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Map

MAX_ID = 2**31 - 1  # PostgreSQL `integer`, the narrowest id column we have

# A row id in a request body (pydantic): 1 .. MAX_ID, else a 422 naming the field.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches 0 .. MAX_ID only (larger numbers: no route, so 404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_converters(app: Any) -> None:
    """Make every `<int:...>` route of a Flask `app` bounded; call before any blueprint.

    Typed loosely on purpose: the commands import RowId from here and must not import Flask.
    """
    app.url_map.converters["int"] = BoundedIntConverter
