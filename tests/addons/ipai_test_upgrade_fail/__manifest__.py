{
    "name": "IPAI test: an upgrade that fails where told to",
    "summary": "Test-only addon (on the addons path of the tests only): its update "
    "raises in a database whose parameter ipai_test_upgrade_fail.fail is set",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "author": "ipai",
    "website": "https://github.com/ipai/ipai",
    "license": "LGPL-3",
    "depends": ["base"],
    "installable": True,
}
