# Relais — one image for the web app and the background workers.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELAIS_ENV=production \
    BEHIND_PROXY=1

# WeasyPrint (the monthly report's PDF) draws text with Pango; fonts for the report.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 relais
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p agency tenants billing && touch agency/__init__.py tenants/__init__.py billing/__init__.py \
    && pip install . && pip uninstall -y relais

COPY . .
RUN pip install --no-deps . && chown -R relais /app
USER relais

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"

CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"]
