# syntax=docker/dockerfile:1
# Multi-stage build: compile with the Rust toolchain, ship a slim Debian image
# that runs `entitle serve` as a non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin entitle \
    && cp target/release/entitle /usr/local/bin/entitle

FROM debian:bookworm-slim
# ca-certificates for TLS to Stripe and the database.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin entitle \
    && mkdir -p /app/data \
    && chown entitle:entitle /app/data
WORKDIR /app
COPY --from=build /usr/local/bin/entitle /usr/local/bin/entitle
COPY plans.toml /app/plans.toml
USER entitle
ENV ENTITLE_ENV=production \
    ENTITLE_BIND=0.0.0.0:8080 \
    ENTITLE_PLANS=/app/plans.toml \
    DATABASE_URL=sqlite:///app/data/entitle.db?mode=rwc
VOLUME ["/app/data"]
EXPOSE 8080
# `entitle healthcheck` probes the port in ENTITLE_BIND, whatever it is set to.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["entitle", "healthcheck"]
# `entitle serve` by default; `docker run IMAGE migrate status` runs another subcommand.
ENTRYPOINT ["entitle"]
CMD ["serve"]
