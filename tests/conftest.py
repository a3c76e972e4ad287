import os

# Rate limits off for the whole session (the suite sends many requests from one address); set in the environment so
# servers the tests start inherit it. tests/security/test_rate_limits.py turns them on explicitly.
os.environ["XACTHUC_RATE_LIMITS"] = "0"

pytest_plugins = ["tests.plugins.chain", "tests.plugins.db", "tests.fuzz.profiles"]
