# syntax=docker/dockerfile:1
# The GlobalApi operator image: a static binary on a distroless base, run
# as a non-root user with a read-only root filesystem (see the Helm chart).
#
#   docker build -t ghcr.io/globalapi/globalapi-operator:0.1.0 .

ARG RUST_VERSION=1.89

# --- build: a static musl binary ------------------------------------------
FROM rust:${RUST_VERSION}-alpine AS build
# musl-dev for the C runtime, cmake/perl/go for aws-lc-rs (rustls' crypto),
# make and g++ for the rest of the C code of the dependency tree.
RUN apk add --no-cache musl-dev cmake perl go make g++
WORKDIR /src
# Dependencies first, so that a change of src/ reuses their layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/globalapi-*
COPY src ./src
RUN cargo build --release --locked --bin globalapi \
    && install -D -m 0755 target/release/globalapi /out/globalapi \
    && /out/globalapi --version

# --- runtime: no shell, no package manager, uid 65532 ----------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/globalapi /usr/local/bin/globalapi
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/globalapi"]
CMD ["run"]
