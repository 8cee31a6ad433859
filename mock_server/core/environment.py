"""The environment variables the kit reads, so that secrets need not appear on a command line (or in `ps`)."""

# The keys the mock accepts (`serve --keys`), comma-separated.
KEYS_ENV = "KLING_MOCK_KEYS"
# One access/secret key pair the mock accepts Kling's JWTs for (`serve --access-key/--secret-key`).
ACCESS_KEY_ENV = "KLING_MOCK_ACCESS_KEY"
SECRET_KEY_ENV = "KLING_MOCK_SECRET_KEY"
# The admin API's token (`serve --admin-token`), which `verify` presents too.
ADMIN_TOKEN_ENV = "KLING_MOCK_ADMIN_TOKEN"
