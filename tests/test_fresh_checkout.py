"""What a fresh clone has not got yet: the ``var/`` folder for the default SQLite database."""

from api import db


def test_migrating_creates_the_folder_of_a_new_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'nested' / 'sib.db'}"
    db.upgrade(url)
    assert (tmp_path / "var" / "nested" / "sib.db").exists()
