# Debian packages the sandbox and the tests use, and a function that
# installs the missing ones (as root). Sourced by scripts/test and
# scripts/demo.

packages=(openssh-server openssh-client nginx mariadb-server mariadb-client iproute2 dnsutils
    gunicorn python3-flask python3-fastapi python3-uvicorn python3-pymysql python3-venv python3-pip
    zstd mydumper hyperfine git openssl procps psmisc curl util-linux)

install_packages() {
    local missing=() package
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    # Prism needs npm. A Node.js from another source (NodeSource, say)
    # ships its own npm and conflicts with Debian's package, so only a
    # machine without any npm gets Debian's.
    command -v npm >/dev/null || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run as root to install them" >&2
        return 1
    fi
    echo "==> installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
