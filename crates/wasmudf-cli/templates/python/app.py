from wasmudf_guest import scalar


@scalar(deterministic=True)
def {{ident}}_hello(name):
    """`{{ident}}_hello(name TEXT) -> TEXT`."""
    return f"hello, {name}"
