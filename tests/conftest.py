pytest_plugins = [
    "tests.fixtures_db",
    "tests.fixtures_broker",
    "tests.fixtures_http",
    "tests.fixtures_api",
]
