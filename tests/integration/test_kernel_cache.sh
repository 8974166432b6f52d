# The kernel cache against the real Debian archive: fetch bookworm and sid
# cloud kernels through the private apt state, reuse them, reject broken
# images, add and remove a local one. The cache ($KTSTR_CACHE_DIR) may be
# shared with other tests: only the entry this test adds is removed.
source "$(dirname "$0")/lib.sh"
K=$BIN/ktstr-kernel

sources_sum() {
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; } | sha256sum
}
apt_before=$(sources_sum)

# kernel_field SHA FIELD: FIELD of the cached entry SHA, from list --json.
kernel_field() {
	"$K" list --json | jq -r --arg s "$1" ".[] | select(.sha256 == \$s) | .$2"
}

# Two fetches of the same spec at once: the suite lock makes the second
# wait and reuse the first one's entry.
echo "# cache: $KTSTR_CACHE_DIR"
rc1=0 rc2=0
"$K" fetch debian:bookworm --json >"$TMP/bw1.json" 2>"$TMP/bw1.err" &
p1=$!
"$K" fetch debian:bookworm --json >"$TMP/bw2.json" 2>"$TMP/bw2.err" &
p2=$!
wait $p1 || rc1=$?
wait $p2 || rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]; then
	ok "two concurrent fetches of debian:bookworm succeed"
else
	bad "concurrent fetch debian:bookworm exited $rc1 and $rc2"
	cat "$TMP/bw1.err" "$TMP/bw2.err"
	finish
fi
bw=$(jq -r .sha256 "$TMP/bw1.json")
check "both concurrent fetches name the same entry" ".sha256 == \"$bw\"" "$TMP/bw2.json"

if "$K" fetch debian:sid --json >"$TMP/sid.json" 2>"$TMP/sid.err"; then
	ok "fetch debian:sid"
else
	bad "fetch debian:sid: $(cat "$TMP/sid.err")"
	finish
fi
sid=$(jq -r .sha256 "$TMP/sid.json")

"$K" list --json >"$TMP/list.json"
check "list --json is an array with both entries" \
	"[.[] | select(.sha256 == \"$bw\" or .sha256 == \"$sid\")] | length == 2" "$TMP/list.json"
check "bookworm entry: debian:bookworm linux-image-*-cloud-amd64-unsigned" \
	".[] | select(.sha256 == \"$bw\") | .source | test(\"^debian:bookworm linux-image-[0-9].*-cloud-amd64-unsigned [^ ]+$\")" \
	"$TMP/list.json"
check "bookworm entry: has_sched_ext false, has_btf true, config kept" \
	".[] | select(.sha256 == \"$bw\") | .has_sched_ext == false and .has_btf == true and (.config | type) == \"string\"" \
	"$TMP/list.json"
check "bookworm entry: version read from the image is a 6.1 release" \
	".[] | select(.sha256 == \"$bw\") | .version | startswith(\"6.1.\")" "$TMP/list.json"
check "sid entry: debian:sid linux-binary-*-cloud-amd64" \
	".[] | select(.sha256 == \"$sid\") | .source | test(\"^debian:sid linux-binary-[0-9].*-cloud-amd64 [^ ]+$\")" \
	"$TMP/list.json"
check "sid entry: has_sched_ext true, has_btf true" \
	".[] | select(.sha256 == \"$sid\") | .has_sched_ext == true and .has_btf == true" "$TMP/list.json"

for s in "$bw" "$sid"; do
	img=$(kernel_field "$s" image)
	if [ "$(sha256sum <"$img" | cut -d' ' -f1)" = "$s" ]; then
		ok "image of ${s:0:12} hashes to its key"
	else
		bad "image $img does not hash to $s"
	fi
done

# Again: the same entry, not downloaded again (fetched_at unchanged).
at=$(kernel_field "$sid" fetched_at)
start=$(date +%s%N)
"$K" fetch debian:sid --json >"$TMP/sid2.json"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "fetching debian:sid again gives the same sha256" ".sha256 == \"$sid\"" "$TMP/sid2.json"
check "... and the same fetched_at ($at): no new download" ".fetched_at == $at" "$TMP/sid2.json"
echo "# second fetch took ${ms} ms"
"$K" resolve debian:sid --json >"$TMP/res.json"
check "resolve debian:sid picks the cached sid entry" ".sha256 == \"$sid\"" "$TMP/res.json"
"$K" resolve "${sid:0:8}" --json >"$TMP/res2.json"
check "resolve by sha256 prefix" ".sha256 == \"$sid\"" "$TMP/res2.json"

# Broken images are refused with a message that says why.
sid_img=$(kernel_field "$sid" image)
head -c 3000000 "$sid_img" >"$TMP/vmlinuz-truncated"
n_before=$("$K" list --json | jq length)
if "$K" add "$TMP/vmlinuz-truncated" 2>"$TMP/trunc.err"; then
	bad "add of a truncated image succeeded"
elif grep -q "truncated bzImage" "$TMP/trunc.err"; then
	ok "add of a truncated image fails: $(cat "$TMP/trunc.err")"
else
	bad "add of a truncated image: unclear message: $(cat "$TMP/trunc.err")"
fi
echo "not a kernel" >"$TMP/garbage"
if "$K" add "$TMP/garbage" 2>"$TMP/garbage.err"; then
	bad "add of a text file succeeded"
elif grep -q "not a bzImage" "$TMP/garbage.err"; then
	ok "add of a text file fails: $(cat "$TMP/garbage.err")"
else
	bad "add of a text file: unclear message: $(cat "$TMP/garbage.err")"
fi
n_after=$("$K" list --json | jq length)
[ "$n_before" = "$n_after" ] && ok "refused images left no entry" || bad "entries $n_before -> $n_after"

# A local image of our own (the sid image plus a unique tail, which the
# header tolerates), with its config beside it: add, list, rm.
own=$TMP/vmlinuz-own
cp "$sid_img" "$own"
printf 'ktstr-kernel-cache-test %s %s' "$$" "$(date +%s%N)" >>"$own"
cp "$(kernel_field "$sid" config)" "$TMP/config"
if "$K" add "$own" --config "$TMP/config" --json >"$TMP/own.json" 2>"$TMP/own.err"; then
	ok "add of a local image"
else
	bad "add of a local image: $(cat "$TMP/own.err")"
	finish
fi
own_sha=$(jq -r .sha256 "$TMP/own.json")
check "local entry: source local:<abs path>, sched_ext from its config" \
	".source == \"local:$own\" and .has_sched_ext == true and .sha256 != \"$sid\"" "$TMP/own.json"
[ "$(kernel_field "$own_sha" source)" = "local:$own" ] && ok "list shows the local entry" ||
	bad "list does not show ${own_sha:0:12}"
if "$K" rm "${own_sha:0:12}"; then
	ok "rm ${own_sha:0:12}"
else
	bad "rm ${own_sha:0:12} failed"
fi
[ -z "$(kernel_field "$own_sha" sha256)" ] && ok "the removed entry is gone from list" ||
	bad "${own_sha:0:12} still listed"
if "$K" rm "${own_sha:0:12}" 2>"$TMP/rm.err"; then
	bad "removing it twice succeeded"
else
	ok "removing it again fails: $(cat "$TMP/rm.err")"
fi
[ -n "$(kernel_field "$sid" sha256)" ] && [ -n "$(kernel_field "$bw" sha256)" ] &&
	ok "the fetched entries are still there" || bad "rm touched other entries"

[ "$(sources_sum)" = "$apt_before" ] && ok "the system's apt sources are unchanged" ||
	bad "the system's apt sources changed"
finish
