# One image for every service: `escalation intake|router|escalator|pager|surge`.
# The build stage installs the package with its runtime dependencies pinned by
# requirements.lock (used as constraints, so the lock's test tools stay out); the
# runtime stage copies that virtualenv alone onto a fresh slim base and runs as an
# unprivileged user with nothing to write outside /var/lib/escalation and /tmp.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN python -m venv /opt/escalation \
 && /opt/escalation/bin/pip install --constraint requirements.lock . \
 && /opt/escalation/bin/escalation --version

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="escalation" \
      org.opencontainers.image.description="Customer-contact routing and escalation on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 escalation \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/escalation --shell /usr/sbin/nologin escalation \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/escalation
COPY --from=build /opt/escalation /opt/escalation
COPY config/policy.example.yaml /etc/escalation/policy/policy.yaml
# Listen on every interface (a container's loopback is its own); state under the
# writable data directory; no .pyc written next to the read-only code.
ENV PATH=/opt/escalation/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ESCALATION_WEB_HOST=0.0.0.0 \
    ESCALATION_DATA_DIR=/var/lib/escalation \
    ESCALATION_POLICY=/etc/escalation/policy/policy.yaml \
    ESCALATION_LOG_FORMAT=json
WORKDIR /var/lib/escalation
USER 10001:10001
# intake, router, escalator, pager, surge
EXPOSE 8080 8081 8082 8083 8085
ENTRYPOINT ["escalation"]
CMD ["--help"]
