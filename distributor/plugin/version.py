"""The version of the plugin API (:mod:`distributor.plugin`).

``MAJOR.MINOR``: a minor release only adds (new names, new optional context fields, new
capabilities); anything that could break a channel written against it raises the major, and
the registry refuses a channel that declares another major (``Channel.api_version``).
"""

API_VERSION = "1.6"


def major(version: str) -> str:
    return str(version).split(".", 1)[0]
