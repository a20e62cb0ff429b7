#!/usr/bin/env bash
# Passes every mail of the evaluation folder through SpamAssassin's local rules and writes it as
# SpamAssassin delivers it (its X-Spam-* headers added on top) to the output folder, under the
# same relative path, so that the same labels.tsv works on both folders. This is the mailbox as
# klachtd sees it behind an organisation's spam filter (`intake.spam.trust`). See README.md here.
#
#     tests/eval/spamfilter.sh /work/eval-mails /work/eval-mails-sa
#
# It fetches nothing and learns nothing:
# - `-L` (local tests only): no DNS blocklists, URIBL, SPF/DKIM/DMARC look-ups, Razor, Pyzor or
#   DCC;
# - `--configpath=/usr/share/spamassassin`: the rules the distribution's package ships, never
#   those of an earlier `sa-update` (there is no network to update them from here anyway);
# - `use_bayes 0`, `bayes_auto_learn 0`: no Bayes, so nothing is trained on the test set (with
#   -L and no Bayes SpamAssassin uses its score set 0); AWL and TxRep are not loaded by default;
# - `-x`: no user preferences are created or read;
# - `report_safe 0`: a mail judged spam keeps its own body and only gets the headers (as
#   spamass-milter and amavis deliver it); with report_safe 1 it would be wrapped in a new mail,
#   which makes no difference to klachtd, which quarantines on `X-Spam-Flag` first.
# Two batches of mails at a time (xargs -P2), the rules loaded once a batch.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <folder with the mails> <output folder>" >&2
    exit 2
fi
in=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
if [ "$in" = "$out" ]; then
    echo "$0: the output folder must differ from the input folder" >&2
    exit 2
fi
command -v spamassassin >/dev/null || { echo "$0: spamassassin is not installed (apt-get install spamassassin)" >&2; exit 2; }

SA_FLAGS=(-L -x --configpath=/usr/share/spamassassin
    --cf='use_bayes 0' --cf='bayes_auto_learn 0' --cf='report_safe 0')

# What produced the folder, for whoever reads the results later.
{
    echo "Made by tests/eval/spamfilter.sh from $in on $(date -u +%Y-%m-%dT%H:%MZ)"
    spamassassin -V | head -1
    dpkg-query -W -f='package: ${Package} ${Version}\n' spamassassin 2>/dev/null || true
    echo "flags: ${SA_FLAGS[*]}"
} >"$out/SPAMFILTER"

# What `spamassassin <flags> < mail > out` does (its `wanted()`: parse, check, rewrite_mail), with
# the rules loaded once per batch of mails rather than once a mail: the command itself spends
# about 1.5 s of CPU a mail on loading them, which makes this set take hours on two cores.
read -r -d '' SA_PERL <<'PERL' || true
use strict;
use warnings;
use Mail::SpamAssassin;
my ($in, $out, @files) = @ARGV;
my $sa = Mail::SpamAssassin->new({
    rules_filename   => '/usr/share/spamassassin',
    local_tests_only => 1,                      # -L
    dont_copy_prefs  => 1,                      # -x
    post_config_text => "use_bayes 0\nbayes_auto_learn 0\nreport_safe 0\n",   # --cf
    require_rules    => 1,
    PREFIX => '/usr', DEF_RULES_DIR => '/usr/share/spamassassin',
    LOCAL_RULES_DIR => '/etc/spamassassin', LOCAL_STATE_DIR => '/var/lib/spamassassin',
});
for my $f (@files) {
    open(my $fh, '<:raw', "$in/$f") or die "spamfilter: $f: $!\n";
    my $str = do { local $/; <$fh> };
    close $fh;
    # As ArchiveIterator hands the command a mail from a file: a list of lines.
    my @lines = split(/^/m, $str, -1);
    $sa->timer_reset;
    my $mail = $sa->parse(\@lines);
    my $status = $sa->check($mail);
    (my $dir = "$out/$f") =~ s{/[^/]*$}{};
    system('mkdir', '-p', $dir) == 0 or die "spamfilter: mkdir $dir failed\n";
    open(my $o, '>:raw', "$out/$f.tmp") or die "spamfilter: $out/$f.tmp: $!\n";
    print $o $status->rewrite_mail() or die "spamfilter: writing $out/$f: $!\n";
    close $o or die "spamfilter: writing $out/$f: $!\n";
    rename("$out/$f.tmp", "$out/$f") or die "spamfilter: $out/$f: $!\n";
    $status->finish();
    $mail->finish();
}
$sa->finish();
PERL

# Every file but the folder's own README and SPAMFILTER notes, two batches at a time. A fixed
# hash seed lists rules of equal score in the same order each run, so that two runs give the
# same bytes.
cd "$in"
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
find . -type f ! -path ./README ! -path ./SPAMFILTER -print0 | sort -z | sed -z 's|^\./||' |
    xargs -0 -P2 -n 100 perl -e "$SA_PERL" "$in" "$out"
echo "spamfilter: $(find "$out" -type f ! -name SPAMFILTER ! -name README | wc -l) mails written to $out"
