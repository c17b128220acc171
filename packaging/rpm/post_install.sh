# The group whose members may use the control socket (/run/baton/baton.sock, mode 0660).
getent group baton >/dev/null || groupadd --system baton
# /etc/baton/baton.conf holds auth_pass and hmac keys: shipped 0640 root:root, given to the
# group baton (the operators) while it is still as shipped.
if [ "$(stat -c %U:%G:%a /etc/baton/baton.conf 2>/dev/null)" = root:root:640 ]; then
    chgrp baton /etc/baton/baton.conf
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# Not enabled or started here: edit /etc/baton/baton.conf, then `systemctl enable --now baton`.
