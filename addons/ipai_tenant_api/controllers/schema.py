"""The declaration language of the REST API: one object per shape (a
request body, an answer, a parameter) that both checks what a client sends
and writes itself into the OpenAPI document, so the two cannot drift.

Plain Python without the ORM or a request. What a client gets wrong is an
``Invalid`` with its status: 400 when the request is malformed (not the
documented shape: an unknown field, a wrong type, a bad parameter), 422 when
it is well-formed but a value is refused (a required field missing, a value
outside its enum, pattern or range)."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MALFORMED = 400
REFUSED = 422
# The Python values json.loads gives for each JSON Schema type.
PYTHON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class Invalid(Exception):
    """What is wrong with a request, and the field at fault."""

    def __init__(self, status, detail, field=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


def _field_of(name):
    """The body field a label such as ``domains[2]`` stands for."""
    return name.split("[", 1)[0] if name else None


@dataclass(frozen=True, kw_only=True)
class Schema:
    """A JSON value's shape. ``nullable`` marks an answer's field that may be
    null; in a request, null is the same as an absent field."""

    description: str | None = None
    default: Any = None
    nullable: bool = False
    json_type = None

    def document(self):
        """The JSON Schema of this shape, for the OpenAPI document."""
        doc = self._document()
        if self.nullable:
            doc = {**doc, "type": [doc["type"], "null"]} if "type" in doc else _one_of_null(doc)
        if self.default is not None:
            doc["default"] = self.default
        if self.description:
            doc["description"] = self.description
        return doc

    def _document(self):
        return {"type": self.json_type}

    def parse(self, value, name):
        """``value`` checked (and completed with defaults); raises Invalid."""
        if not self._is_of_type(value):
            detail = f"The field '{name}' must be of type {self.json_type}."
            raise Invalid(MALFORMED, detail, _field_of(name))
        return value

    def from_text(self, text, name):
        """A query or header value, converted to this shape's type."""
        return self.parse(text, name)

    def _is_of_type(self, value):
        kinds = PYTHON_TYPES[self.json_type]
        # JSON's true and false are no numbers, though Python's bool is an int.
        return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def _one_of_null(doc):
    return {"oneOf": [doc, {"type": "null"}]}


def _refuse_out_of_range(value, name, minimum, maximum, unit=""):
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = [f"at least {minimum}"] if minimum is not None else []
        bounds += [f"at most {maximum}"] if maximum is not None else []
        detail = f"'{name}' must be {' and '.join(bounds)}{unit}."
        raise Invalid(REFUSED, detail, _field_of(name))


@dataclass(frozen=True, kw_only=True)
class String(Schema):
    """``check`` returns why a value is refused (or None): the message a
    rule outside the API gives, where a pattern alone would be terse."""

    pattern: str | None = None
    format: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    check: Callable[[str], str | None] | None = None
    json_type = "string"

    def _document(self):
        doc = {"type": "string"}
        for key, value in (
            ("pattern", self.pattern),
            ("format", self.format),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
        ):
            if value is not None:
                doc[key] = value
        return doc

    def parse(self, value, name):
        value = super().parse(value, name)
        problem = self.check(value) if self.check else None
        if problem:
            raise Invalid(REFUSED, problem, _field_of(name))
        if self.pattern and not re.search(self.pattern, value):
            raise Invalid(REFUSED, f"'{name}' must match {self.pattern}.", _field_of(name))
        _refuse_out_of_range(len(value), name, self.min_length, self.max_length, " characters long")
        return value


@dataclass(frozen=True, kw_only=True)
class Number(Schema):
    minimum: float | None = None
    maximum: float | None = None
    json_type = "number"

    def _document(self):
        doc = {"type": self.json_type}
        if self.minimum is not None:
            doc["minimum"] = self.minimum
        if self.maximum is not None:
            doc["maximum"] = self.maximum
        return doc

    def parse(self, value, name):
        value = super().parse(value, name)
        _refuse_out_of_range(value, name, self.minimum, self.maximum)
        return value

    def from_text(self, text, name):
        try:
            number = PYTHON_TYPES[self.json_type][-1](text)
        except ValueError as exc:
            raise Invalid(MALFORMED, f"'{name}' must be of type {self.json_type}.", name) from exc
        return self.parse(number, name)


@dataclass(frozen=True, kw_only=True)
class Integer(Number):
    json_type = "integer"


@dataclass(frozen=True, kw_only=True)
class Boolean(Schema):
    json_type = "boolean"


@dataclass(frozen=True, kw_only=True)
class Enum(Schema):
    """One of a fixed set of strings (states, types)."""

    values: tuple
    json_type = "string"

    def _document(self):
        return {"enum": list(self.values)}

    def parse(self, value, name):
        value = super().parse(value, name)
        if value not in self.values:
            raise Invalid(
                REFUSED, f"'{name}' must be one of {', '.join(self.values)}.", _field_of(name)
            )
        return value


@dataclass(frozen=True, kw_only=True)
class Array(Schema):
    items: Schema
    json_type = "array"

    def _document(self):
        return {"type": "array", "items": self.items.document()}

    def parse(self, value, name):
        value = super().parse(value, name)
        return [self.items.parse(item, f"{name}[{index}]") for index, item in enumerate(value)]


@dataclass(frozen=True, kw_only=True)
class Object(Schema):
    """``required`` and ``optional`` name the properties; ``additional``
    is False (no other property), True (any) or the shape of the others."""

    required: dict = field(default_factory=dict)
    optional: dict = field(default_factory=dict)
    additional: Any = False
    min_properties: int | None = None
    json_type = "object"

    def _document(self):
        doc = {"type": "object"}
        if self.additional is False:
            doc["additionalProperties"] = False
        elif self.additional is not True:
            doc["additionalProperties"] = self.additional.document()
        if self.min_properties:
            doc["minProperties"] = self.min_properties
        if self.required:
            doc["required"] = list(self.required)
        properties = {**self.required, **self.optional}
        if properties:
            doc["properties"] = {name: shape.document() for name, shape in properties.items()}
        return doc

    def parse(self, value, name):
        """The fields sent (null ones dropped) and the declared defaults of
        the others."""
        value = super().parse(value, name)
        properties = {**self.required, **self.optional}
        if self.additional is False and set(value) - set(properties):
            unknown = ", ".join(sorted(set(value) - set(properties)))
            raise Invalid(MALFORMED, f"Unknown field(s): {unknown}.")
        sent = {key: item for key, item in value.items() if item is not None}
        if self.min_properties and len(sent) < self.min_properties:
            raise Invalid(MALFORMED, f"Send at least one of {', '.join(properties)}.")
        parsed = {}
        for key, shape in properties.items():
            if key in sent:
                parsed[key] = shape.parse(sent[key], key)
            elif key in self.required:
                raise Invalid(REFUSED, f"The field '{key}' is required.", key)
            elif shape.default is not None:
                parsed[key] = shape.default
        return parsed


@dataclass(frozen=True, kw_only=True)
class Ref(Schema):
    """A named shape, written once under components/schemas."""

    name: str
    target: Schema

    def _document(self):
        return {"$ref": f"#/components/schemas/{self.name}"}

    def document(self):
        doc = self._document()
        return _one_of_null(doc) if self.nullable else doc

    def parse(self, value, name):
        return self.target.parse(value, name)


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter. Whatever is wrong with one is a
    malformed request (400); an empty query parameter counts as absent."""

    name: str
    location: str
    schema: Schema
    required: bool = False
    description: str | None = None

    def document(self):
        doc = {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "schema": self.schema.document(),
        }
        if self.description:
            doc["description"] = self.description
        return doc

    def parse(self, text):
        """The parameter's value from its text (None: absent)."""
        if text is None or (text == "" and self.location == "query"):
            if self.required:
                raise Invalid(MALFORMED, f"The {self.location} parameter '{self.name}' is missing.")
            return self.schema.default
        try:
            return self.schema.from_text(text, self.name)
        except Invalid as exc:
            raise Invalid(MALFORMED, f"Bad {self.location} parameter: {exc.detail}") from exc


@dataclass(frozen=True)
class Operation:
    """Everything the document says about one route and method; the
    endpoint checks its parameters and body with the same objects.
    ``answers``: {status: (shape, description)} of its success answers."""

    summary: str
    answers: dict
    description: str | None = None
    params: tuple = ()
    body: Schema | None = None
    # The media type of a body sent as it is (a file), instead of JSON.
    upload: str | None = None
    # The media type of a success answer that is a file, instead of JSON.
    download: str | None = None
    problems: tuple = ()
    authenticated: bool = True

    @property
    def checked_params(self):
        """The query and header parameters (the route checks its path's)."""
        return tuple(param for param in self.params if param.location != "path")

    def parse_params(self, read):
        """{name: value} of the query and header parameters sent or
        defaulted, ``read`` giving a parameter's text."""
        values = {param.name: param.parse(read(param)) for param in self.checked_params}
        return {name: value for name, value in values.items() if value is not None}

    def statuses(self):
        """The problem statuses this route may answer: the declared ones,
        and 400 and 422 where a body or parameter is checked."""
        checked = {MALFORMED} if self.checked_params else set()
        if self.body or self.upload:
            checked |= {MALFORMED, REFUSED}
        return sorted(set(self.problems) | checked)
