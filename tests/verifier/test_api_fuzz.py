"""Bad input never yields a 5xx: Hypothesis throws random bytes, strings, truncated and oversized payloads, non-QR
images and huge files at ``/v1/verify`` and ``/v1/documents`` and gets typed 4xx errors (or a 200/201 when the
input happens to be fine). Runs over the eth-tester registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from xacthuc.app import create_app
from xacthuc.services import Services
from xacthuc.settings import Settings

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
LIMIT = 256 * 1024  # a small upload limit keeps "huge" cheap
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


class Api:
    def __init__(self, client: TestClient, key: str, payload: str) -> None:
        self.client = client
        self.key = key
        self.payload = payload  # a real document payload, to truncate and mangle

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, "fuzz passphrase", now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    s = Settings(_env_file=None, data_dir=data_dir, public_url=PUBLIC, upload_limit=LIMIT)  # type: ignore[call-arg]
    services = Services(settings=s, engine=engine, city=city, registry_client=registry)
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    key = next(a["api_key"] for a in creds["agencies"] if a["id"] == "ubnd-hcm")
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/documents", data=META, files={"file": ("d", b"x")}, headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 201, r.text
        yield Api(client, key, r.json()["receipt"]["payload"])


def _typed(r: Any, *ok: int) -> None:
    assert r.status_code < 500, r.text
    if r.status_code not in ok:
        assert 400 <= r.status_code < 500
        body = r.json()
        assert set(body["error"]) >= {"code", "message"}, body


def _noise_png(seed: int, size: int) -> bytes:
    rnd = random.Random(seed)
    img = Image.frombytes("L", (size, size), bytes(rnd.randrange(256) for _ in range(size * size)))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:", max_size=400).map(lambda t: "XD1:" + t),
    st.builds(lambda n: "XD1:" + "A" * n, st.integers(1000, 20000)),
    st.sampled_from(["XI1:", "XD9:AAA", "https://h/v#", "https://h/x#XD1:AAA", "eyJ.a.b~", "\x00", "🙂" * 3000]),
)


@FUZZ
@given(data=st.data())
def test_verify_never_5xx(api: Api, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 5))
    if choice == 0:
        r = api.client.post("/v1/verify", json={"payload": data.draw(texts)})
    elif choice == 1:
        cut = data.draw(st.integers(0, len(api.payload)))
        flip = data.draw(st.integers(4, len(api.payload) - 1))
        mangled = api.payload[:cut] if data.draw(st.booleans()) else api.payload[:flip] + "Z" + api.payload[flip + 1 :]
        r = api.client.post("/v1/verify", json={"payload": mangled})
    elif choice == 2:
        body = data.draw(st.binary(max_size=2000))
        ctype = data.draw(st.sampled_from(["application/json", "multipart/form-data", "text/plain", "", "image/png"]))
        r = api.client.post("/v1/verify", content=body, headers={"content-type": ctype})
    elif choice == 3:
        image = data.draw(
            st.one_of(st.binary(max_size=3000), st.builds(_noise_png, st.integers(0, 99), st.integers(1, 80)))
        )
        r = api.client.post("/v1/verify", files={"image": ("x.png", image, "image/png")})
    elif choice == 4:
        junk = data.draw(st.dictionaries(st.sampled_from(["payload", "audience", "nonce", "x"]), texts, max_size=3))
        r = api.client.post("/v1/verify", json=junk if data.draw(st.booleans()) else [junk])
    else:
        r = api.client.post("/v1/verify", data={"payload": api.payload}, files={"file": ("f", b"\0" * (LIMIT + 1))})
        assert r.status_code == 413
    _typed(r, 200)


field_values = st.one_of(st.none(), st.text(max_size=120), st.sampled_from([*META.values(), "2024-13-45"]))


@FUZZ
@given(data=st.data())
def test_issue_never_5xx(api: Api, data: st.DataObject) -> None:
    fields = {k: data.draw(st.one_of(st.just(v), field_values)) for k, v in META.items()}
    form = {k: v for k, v in fields.items() if v is not None}
    file = data.draw(st.one_of(st.none(), st.binary(max_size=500)))
    files = None if file is None else {"file": ("d.pdf", file, "application/pdf")}
    r = api.client.post("/v1/documents", data=form, files=files, headers=api.auth())
    _typed(r, 201)


@FUZZ
@given(body=st.one_of(st.binary(max_size=500), st.text(max_size=200).map(str.encode)), batch=st.booleans())
def test_raw_bodies_to_issuance_never_5xx(api: Api, body: bytes, batch: bool) -> None:
    path = "/v1/documents:batch" if batch else "/v1/documents"
    ctype = "application/json" if batch else "multipart/form-data; boundary=xyz"
    r = api.client.post(path, content=body, headers={**api.auth(), "content-type": ctype})
    _typed(r)


def test_upload_over_the_limit_is_413(api: Api) -> None:
    big = b"\0" * (LIMIT + 10)
    r = api.client.post("/v1/documents", data=META, files={"file": ("big.pdf", big)}, headers=api.auth())
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    r = api.client.post("/v1/verify", files={"image": ("big.png", big)})
    assert r.status_code == 413


def test_chunked_upload_over_the_limit_is_413(api: Api) -> None:
    # No Content-Length: the limit is enforced while the body streams in.
    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 4096 + 2):
            yield b"\0" * 4096

    ctype = {"content-type": "multipart/form-data; boundary=xyz"}
    r = api.client.post("/v1/documents", content=chunks(), headers={**api.auth(), **ctype})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_batch_issue_and_unknown_document(api: Api) -> None:
    import base64

    docs = [dict(META, number=f"{i}/QĐ-UBND", file_base64=base64.b64encode(b"f%d" % i).decode()) for i in (7, 8)]
    r = api.client.post("/v1/documents:batch", json={"documents": docs}, headers=api.auth())
    assert r.status_code == 201, r.text
    ids = [d["id"] for d in r.json()["documents"]]
    assert [api.client.get(f"/v1/documents/{i}").json()["status"] for i in ids] == ["pending", "pending"]
    bad = [dict(docs[0], number="nonsense")]
    r = api.client.post("/v1/documents:batch", json={"documents": bad}, headers=api.auth())
    assert r.status_code == 422 and "documents[0]" in r.json()["error"]["message"]
    assert api.client.get("/v1/documents/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert api.client.get("/v1/documents/" + "x" * 300).status_code == 404


def test_verify_page_reads_the_fragment(api: Api) -> None:
    # The page has no inline script (CSP): its module, served by us, reads the fragment, which never reaches us.
    r = api.client.get("/v")
    assert r.status_code == 200 and '<script type="module" src="/static/verify/link-page.js">' in r.text
    script = api.client.get("/static/verify/link-page.js")
    assert script.status_code == 200 and "location.hash" in script.text


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    api.client.get("/v1/documents/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    text = api.client.get("/metrics").text
    line = next(ln for ln in text.splitlines() if ln.startswith("xacthuc_http_requests_total{") and "404" in ln)
    assert 'route="/v1/documents/{document_id}"' in line  # the template, never the raw id
    assert "01ARZ3NDEKTSV4RRFFQ69G5FAV" not in text
