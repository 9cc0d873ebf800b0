# One image for every process of the platform (registration, matching,
# notification and the HTTP gateway); the command chooses which one runs.

# The pages' front-end files (KRDS, Swagger UI) from the npm packages pinned in
# package-lock.json; only node_modules is carried over.
FROM node:20-slim AS assets
WORKDIR /assets
COPY services/gateway/assets/package.json services/gateway/assets/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json \
    GATEWAY_BIND=0.0.0.0:8000

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The project itself: packages go to site-packages, while services/ (configs
# read at start-up, e.g. services/gateway/gunicorn.conf.py) stays in /app.
# .dockerignore keeps tests, deployment files and local secrets out.
COPY . .
COPY --from=assets /assets/node_modules services/gateway/assets/node_modules
# vendored front-end files and compiled translation catalogs are built here, never committed
RUN python services/gateway/assets/vendor.py \
    && for catalog in services/gateway/gateway/translations/*; do \
         pybabel compile -d "$catalog" -D messages; done \
    && rm -rf services/gateway/assets/node_modules \
    && pip install --no-cache-dir --no-deps .

# Numeric uid/gid so that Kubernetes' runAsNonRoot can verify it. The files
# stay owned by root: the process needs no write access except /tmp, which
# lets containers run with a read-only root file system.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin app
USER 10001:10001

EXPOSE 8000

# Default process: the gateway. The nameko services override the command.
CMD ["gunicorn", "--config", "services/gateway/gunicorn.conf.py", "gateway.app:create_app()"]
