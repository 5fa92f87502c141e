"""The one way this addon changes Odoo's code.

The runtime replaces functions of Odoo's modules and methods of its classes
before any registry exists (routing, connections, gates). Each change goes
through ``patch`` (or ``add``, for an attribute Odoo does not define), so
that:

- a patch applied twice wraps once: ``post_load`` may run again in a process
  (a test, a second import) without stacking a gate on itself;
- a patch gets the attribute it replaces and calls it; ``original`` reaches
  it later from outside;
- a target Odoo renamed or removed fails at start-up, instead of leaving a
  gate silently unapplied.

A patch is known by its factory's module and name, which stay the same when
a module is imported again, so a fresh function object does not fool the
check.
"""

_KEY = "_ipai_patch"
_ORIGINAL = "_ipai_original"
_DESCRIPTORS = (classmethod, staticmethod)


def _key(function):
    return f"{function.__module__}.{function.__qualname__}"


def _stored(owner, name):
    """``owner.name`` as stored, found in ``owner`` or, for a class, in its
    bases: a class method stays a ``classmethod`` instead of a bound method."""
    for namespace in owner.__mro__ if isinstance(owner, type) else (owner,):
        if name in vars(namespace):
            return vars(namespace)[name]
    raise AttributeError(f"{owner!r} has no attribute {name!r}")


def _function(stored):
    return stored.__func__ if isinstance(stored, _DESCRIPTORS) else stored


def _stack(function):
    """The keys of the patches stacked in ``function``, outermost first."""
    while hasattr(function, _KEY):
        yield getattr(function, _KEY)
        function = getattr(function, _ORIGINAL)


def patch(owner, name, make):
    """Set ``owner.name`` to ``make(original)`` and return what is set.

    ``original`` is the attribute as it is now; for a class or static method,
    the function underneath (called with ``cls`` first, for a class method),
    and the replacement is wrapped the same way. The attribute is set on
    ``owner`` itself, so patching an inherited method leaves the base class
    and its other subclasses alone. A ``make`` already applied to it is not
    applied again.
    """
    stored = _stored(owner, name)
    current = _function(stored)
    key = _key(make)
    if key in _stack(current):
        return current
    replacement = make(current)
    setattr(replacement, _KEY, key)
    setattr(replacement, _ORIGINAL, current)
    kind = type(stored) if isinstance(stored, _DESCRIPTORS) else None
    setattr(owner, name, kind(replacement) if kind else replacement)
    return replacement


def add(owner, name, value):
    """Give ``owner`` the attribute ``name``, which Odoo does not define (a
    constraint method on one of its models); applied twice, it is set once.
    An attribute of that name that is not this one is never shadowed."""
    key = _key(value)
    try:
        present = _function(_stored(owner, name))
    except AttributeError:
        setattr(value, _KEY, key)
        setattr(value, _ORIGINAL, None)
        setattr(owner, name, value)
        return value
    if key in _stack(present):
        return present
    raise AttributeError(f"{owner!r} already has an attribute {name!r}: patch it instead")


def original(owner, name):
    """What ``owner.name`` was before any patch (the function under a class
    or static method); None for an attribute ``add`` created."""
    function = _function(_stored(owner, name))
    while hasattr(function, _KEY):
        function = getattr(function, _ORIGINAL)
    return function


def applied(owner, name):
    """The patches applied to ``owner.name``, outermost first, each named by
    its factory's module and name (empty when untouched)."""
    return list(_stack(_function(_stored(owner, name))))
