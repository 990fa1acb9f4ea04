# mlopsgen as a container image, for the PR check (`ci.mlopsgen_image`): build it from a checkout of
# the revision your team pins, push it to your registry and name it in the spec by its digest
# (README, "Installing mlopsgen"). The image runs `mlopsgen` with the step's arguments.
FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY bench bench
COPY src src
COPY templates templates
RUN cargo build --release --locked --bin mlopsgen

FROM debian:bookworm-slim
COPY --from=build /src/target/release/mlopsgen /usr/local/bin/mlopsgen
ENTRYPOINT ["mlopsgen"]
