# syntax=docker/dockerfile:1
# The xacthuc image: one image for every xacthuc service of docker-compose.yml (migrate, setup, api, worker).
#
# Three stages: `assets` fetches the npm packages the pages serve (swagger-ui-dist for /docs, zxing-wasm for the
# scanner; the wallet's bundle is committed under xacthuc/web/static), `build` makes a virtualenv with the package
# and its pinned dependencies, `runtime` is python:3.11-slim with that venv, those assets, Debian's DejaVu font (the
# stamped PDF's Vietnamese caption) and a non-root user: no compiler, no npm, no tests, no secrets. The keystore
# passphrase and the database password are mounted at run time as compose secrets (/run/secrets/...), never built in.

FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
# Only "dependencies" (swagger-ui-dist, zxing-wasm): the devDependencies are the compiler, the dev node and test tools.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY keys ./keys
COPY ledger ./ledger
COPY identity ./identity
COPY verifier ./verifier
COPY xacthuc ./xacthuc
# Editable, so the code runs from /app as in a checkout: the pages find node_modules beside the packages (/app).
RUN /opt/venv/bin/pip install -e /app

FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 xacthuc \
    && useradd --system --uid 10001 --gid xacthuc --home-dir /data --shell /usr/sbin/nologin xacthuc \
    && mkdir -p /data \
    && chown xacthuc:xacthuc /data \
    && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY --from=assets /app/node_modules /app/node_modules
COPY deploy/alembic.ini deploy/setup.sh /app/deploy/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XACTHUC_DATA_DIR=/data \
    XACTHUC_HOST=0.0.0.0 \
    XACTHUC_PORT=8000
WORKDIR /app
# /data (a volume in docker-compose.yml) holds the keystore and the registry record; the image itself is read-only.
VOLUME ["/data"]
USER xacthuc:xacthuc
EXPOSE 8000
# The API's readiness (database and chain reachable): urlopen raises on a 503, so the probe fails. The worker
# serves no HTTP: docker-compose.yml turns this probe off for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["xacthuc", "serve", "--no-worker"]
