# crigate's pytest plugin lives in plugins/; this file only loads it.
pytest_plugins = ["plugins.crigate"]
