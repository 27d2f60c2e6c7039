# Build stage: a release binary.
FROM rust:1-slim-bookworm AS build
# jemalloc, the binary's allocator, is built from its C sources with make, which the slim
# image lacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make=4.3-4.1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, in a layer of their own: built from the manifest and lock file with
# placeholder sources, it is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY crates/ecs-ingress-core/Cargo.toml crates/ecs-ingress-core/
RUN mkdir src crates/ecs-ingress-core/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs crates/ecs-ingress-core/src/lib.rs \
 && cargo build --release --locked --bin ecs-ingress \
 && rm -rf src crates/ecs-ingress-core/src
COPY src ./src
COPY crates ./crates
# COPY keeps the sources' own times, which can be older than the placeholder build: touch
# them so cargo rebuilds both crates.
RUN touch src/main.rs src/lib.rs crates/ecs-ingress-core/src/lib.rs \
 && cargo build --release --locked --bin ecs-ingress

# Runtime: a small image with CA certificates, running as a non-root user. The certificates
# come from the build stage (which has them to fetch crates), so this stage installs nothing.
FROM debian:bookworm-slim
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ecs-ingress
COPY --from=build /src/target/release/ecs-ingress /usr/local/bin/ecs-ingress
USER 10001
EXPOSE 8080
# For `docker run`; ECS and Kubernetes use their own checks (the task definition's runs the
# same command, the chart probes /healthz and /readyz over HTTP).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD ["ecs-ingress", "healthcheck"]
ENTRYPOINT ["ecs-ingress"]
CMD ["run"]
