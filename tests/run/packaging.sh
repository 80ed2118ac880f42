#!/usr/bin/env bash
# Packaging that cannot be exercised here (no docker daemon) is at least checked for the parts
# the issue asks for; the man pages render with man -l without warnings.
. "$(dirname "$0")/../lib.sh"

for m in man/faultline.1 man/faultline-profile.5; do
    n=$(basename "$m")
    if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
        check "man_${n}_no_warnings" [ -z "$out" ]
        check "man_${n}_renders" bash -c "MANWIDTH=80 man -l '$m' 2>/dev/null | grep -q 'SEE ALSO'"
    else
        echo "ok man_$n # SKIP man is not installed"
    fi
done
missing=""
for c in serve check ctl verify run console version ca; do grep -q "^\.B.*faultline $c\|^\.BI \"$c \|^\.B $c\$" man/faultline.1 || missing="$missing $c"; done
check man1_lists_every_command [ -z "$missing" ]
D=Dockerfile
check docker_two_stages_on_debian12_slim [ "$(grep -c '^FROM debian:12-slim' $D)" = 2 ]
check docker_build_stage_named grep -q '^FROM debian:12-slim AS build' $D
check docker_non_root_user bash -c "grep -q '^USER faultline' $D && ! grep -q '^USER root' $D"
check docker_healthcheck_healthz bash -c "grep -A1 '^HEALTHCHECK' $D | grep -q '/healthz'"
check docker_profiles_at_etc grep -q '/etc/faultline' $D
check docker_copies_binary_from_build grep -q 'COPY --from=build' $D
check deploy_has_k8s_sidecar bash -c "grep -q 'kind: Deployment' docs/deploy.md && grep -q 'name: faultline' docs/deploy.md"
check deploy_has_systemd_unit bash -c "grep -q '^ExecStart=/usr/local/bin/faultline serve' docs/deploy.md"
# The build stage, replayed without docker: exactly the paths its COPY lines name, then its
# `make install` (with the binary built here, -o: not rebuilt). Catches a file install needs
# that the stage does not copy.
src="$TT/src"; mkdir -p "$src/build"
sed -n '/^FROM .* AS build/,/^FROM /p' $D | sed -n 's/^COPY \(.*\) \.\/\?[^ ]*$/\1/p' | tr ' ' '\n' | grep -v '^--' |
    while read -r f; do [ -n "$f" ] && cp -r --parents "$f" "$src/"; done
cp "$FL" "$src/build/faultline"
# every file the stage's build needs is copied (a dry run names a missing one), whatever build
# directory this suite runs on (BUILD is set for build-asan)
check docker_build_stage_has_every_input bash -c "make -n -C '$src' BUILD=build build/faultline >/dev/null"
check docker_build_stage_install_replays make -s -C "$src" BUILD=build -o build/faultline install PREFIX=/usr/local DESTDIR="$TT/out"
check docker_install_has_binary_and_profiles bash -c "[ -x '$TT/out/usr/local/bin/faultline' ] && ls '$TT/out/usr/local/share/faultline/profiles/'*.ini '$TT/out/usr/local/share/faultline/profiles/scenarios/'*.ini >/dev/null"
# every shared library the binary needs comes from a package the runtime stage installs
pk=$(sed -n '/^# ---- runtime/,$p' $D)
miss=""
for l in libevent-2 libinih libhiredis libjansson libpq libhttp_parser; do
    f=$(ldd "$FL" | awk -v l="$l" 'index($1, l) == 1 {print $3; exit}')
    p=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null | cut -d: -f1)
    echo "$pk" | grep -qw -- "$p" || miss="$miss $l($p)"
done
check docker_runtime_has_every_library [ -z "$miss" ]
[ -n "$miss" ] && echo "# runtime stage lacks:$miss"
check docker_healthcheck_target_is_in_default_profile grep -q '^admin = 127.0.0.1:8474' profiles/passthrough.ini
# the systemd unit's ExecStartPre command really validates a profile
check unit_check_command_works "$FL" check profiles/passthrough.ini
done_tests
