"""Issue 10, "CLI that tells the truth": commands act through the same authorisation as HTTP.

``doc issue --agency ca-hcm`` once signed a document for the police, an agency without ``documents:issue``. Now every
command that acts for an agency asks ``xacthuc.cli._common.require_agency_role``, which builds the agency's principal
from its trust roles and its disabled flag and asks HTTP's own ``keys.agencies.require_role``: the same ``Forbidden``
(``FORBIDDEN``, with the role) as over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from keys.bootstrap import City, create_city
from keys.errors import AgencyNotFound, Forbidden
from keys.keystore import TEST_KDF
from xacthuc.cli._common import agency_principal, require_agency_role
from xacthuc.database import make_engine, migrate

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def city(tmp_path: Path) -> tuple[City, Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    session = Session(engine)
    city = create_city(tmp_path, session, "a passphrase for the test", NOW, kdf=TEST_KDF, demo=True)
    session.commit()
    return city, session


def test_cli_role_check_is_http_require_role(city: tuple[City, Session]) -> None:
    c, session = city
    assert require_agency_role(c, session, "ubnd-hcm", "documents:issue").agency_id == "ubnd-hcm"
    assert require_agency_role(c, session, "ca-hcm", "identity:issue").agency_id == "ca-hcm"
    with pytest.raises(Forbidden) as refused:
        require_agency_role(c, session, "ca-hcm", "documents:issue")
    assert refused.value.code == "FORBIDDEN" and refused.value.http_status == 403
    assert refused.value.role == "documents:issue" and "ca-hcm" in str(refused.value)
    with pytest.raises(Forbidden):
        require_agency_role(c, None, "ubnd-hcm", "identity:issue")  # from the key ring's profile alone
    # the principal holds what an API key created with the agency's trust roles holds
    assert agency_principal(c, session, "ubnd-hcm").roles == {"documents:issue", "documents:revoke"}


def test_cli_role_check_refuses_a_disabled_agency(city: tuple[City, Session]) -> None:
    c, session = city
    c.disable_agency(session, "ubnd-hcm", NOW)
    session.commit()
    for s in (session, None):
        with pytest.raises(Forbidden) as refused:
            require_agency_role(c, s, "ubnd-hcm", "documents:issue")
        assert "disabled" in str(refused.value)


def test_cli_role_check_names_an_unknown_agency(city: tuple[City, Session]) -> None:
    c, session = city
    with pytest.raises(AgencyNotFound):
        require_agency_role(c, session, "no-such-agency", "documents:issue")
