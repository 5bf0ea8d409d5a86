# syntax=docker/dockerfile:1
# Deckhand's image: the `deckhand` distribution only (the stand-ins in sandbox/ are the
# separate `deckhand-sandbox` distribution and stay out). Build it for the nodes' platform, not your laptop's:
#   docker buildx build --platform linux/amd64 -t gitea.example.com/admin/deckhand:$(git rev-parse --short HEAD) --push .

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
RUN python -m venv /opt/deckhand \
 && /opt/deckhand/bin/pip install --no-compile . \
 && find /opt/deckhand -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
# Read-only root filesystem: no bytecode writes, temp files go to the /tmp volume.
ENV PATH=/opt/deckhand/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 deckhand \
 && useradd --system --uid 10001 --gid deckhand --no-create-home --shell /usr/sbin/nologin deckhand
COPY --from=build /opt/deckhand /opt/deckhand
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["deckhand"]
CMD ["run", "--config", "/etc/deckhand/deckhand.yaml"]
