# Build stage: a release binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin ecs-ingress

# Runtime: a small image with CA certificates, running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 ecs-ingress
COPY --from=build /src/target/release/ecs-ingress /usr/local/bin/ecs-ingress
USER 10001
EXPOSE 8080
# For `docker run`; ECS and Kubernetes use their own checks (the task definition's runs the
# same command, the chart probes /healthz and /readyz over HTTP).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD ["ecs-ingress", "healthcheck"]
ENTRYPOINT ["ecs-ingress"]
CMD ["run"]
