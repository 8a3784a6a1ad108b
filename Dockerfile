# acorn-gateway: `acorn run` (scheduled jobs + the HTTP server: AS2, /healthz, /readyz,
# /metrics, /api). Configuration in /etc/acorn (acorn.toml and keys), data in /var/lib/acorn
# (SQLite database, ERP folders). Build:  docker build -t acorn-gateway .
# Run:    docker run -v /srv/acorn/etc:/etc/acorn:ro -v /srv/acorn/data:/var/lib/acorn \
#                    -p 8080:8080 acorn-gateway
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY maps ./maps
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="acorn-gateway" \
      org.opencontainers.image.description="EDI gateway for Amazon Vendor Central (X12 over AS2/SFTP)" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACORN_CONFIG=/etc/acorn/acorn.toml \
    ACORN_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 acorn \
    && useradd --system --uid 10001 --gid acorn --home-dir /var/lib/acorn --shell /usr/sbin/nologin acorn \
    && mkdir -p /etc/acorn /var/lib/acorn \
    && chown acorn:acorn /var/lib/acorn
USER 10001:10001
WORKDIR /var/lib/acorn
VOLUME ["/etc/acorn", "/var/lib/acorn"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ACORN_HTTP_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["acorn", "run"]
CMD ["--host", "0.0.0.0"]
