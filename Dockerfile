FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/reflexe

RUN groupadd --system --gid 10001 reflexe \
    && useradd --system --uid 10001 --gid reflexe --home-dir /srv/reflexe --no-create-home reflexe

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir . \
    && mkdir -p data \
    && chown 10001:10001 data

USER 10001:10001

# Inside a container the service must listen beyond loopback; the SQLite file lives in
# ./data (mount a volume there) unless REFLEXE_DATABASE_URL points at PostgreSQL.
ENV REFLEXE_HOST=0.0.0.0
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

# `reflexe serve` migrates once, then refuses to start, with a one-line reason, without
# REFLEXE_SECRET_KEY and an API key (see the README's Docker section).
CMD ["reflexe", "serve", "--port", "8000"]
