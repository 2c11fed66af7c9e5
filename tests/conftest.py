import pytest

pytest_plugins = ["pytester"]

# Fixtures that need what the test bed's build installs (Debian's chromium):
# a test asking for one is a test-bed test, whatever its module.
TESTBED_FIXTURES = {"chromium"}


@pytest.hookimpl(tryfirst=True)      # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if TESTBED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.testbed)
