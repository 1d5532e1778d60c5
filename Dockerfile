# tollgate in a container: built in a Rust image, run from a small image as a non-root user.
#
#   docker build -t tollgate .
#   docker run --rm -p 8080:8080 tollgate                                   # the echo stand-in
#   docker run --rm -p 8080:8080 tollgate proxy --bind :8080 --upstream http://app:9000
#   docker run --rm -p 8080:8080 -v "$PWD/tollgate.toml:/etc/tollgate/tollgate.toml:ro" \
#       tollgate run /etc/tollgate/tollgate.toml
#   docker exec CONTAINER tollgate reload /etc/tollgate/tollgate.toml

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin tollgate \
    && strip target/release/tollgate

# glibc, CA certificates, /tmp and a `nonroot` user (uid 65532), nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["proxy", "--bind", ":8080"]
