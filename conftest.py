# crigate's pytest plugin (plugins/pytest_plugin.py) is registered by the `pytest11`
# entry point in pyproject.toml, so it loads from any directory once crigate is
# installed (`make setup`); nothing to load here.
