pytest_plugins = ["tests.plugins.chain", "tests.plugins.db"]
