# $1 is 0 when the package is removed (not upgraded): stop and disable the service.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now baton.service >/dev/null 2>&1 || :
fi
