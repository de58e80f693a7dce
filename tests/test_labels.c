/*  test_labels: node labels, label selectors and GPU detection, without
    a cluster.

    Labels: good strings parse (and print back with their keys sorted);
    each way a string can be wrong is refused with an error that names
    the entry and what is wrong with it.  Selectors: every form (k=v,
    k!=v, k in (a|b), k, !k) matches and fails to match as it should, all
    terms must hold, the empty selector matches everything, bad ones are
    refused naming the term, and a failed match names the first term that
    fails and what the node has instead.  GPUs: on a host without a GPU
    (or without a driver) pdc_gpu_count is 0 with a reason, and an empty
    CUDA_VISIBLE_DEVICES hides every device on any host. */
#include "pdc_gpu.h"
#include "pdc_labels.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_err[512];
static char g_buf[1024];

static void s_setup(void) {
    g_err[0] = '\0';
    g_buf[0] = '\0';
}

TestSuite(labels, .init = s_setup);
TestSuite(selector, .init = s_setup);
TestSuite(mismatch, .init = s_setup);
TestSuite(gpu, .init = s_setup);

/* ---- Helpers ------------------------------------------------------------ */

static pdc_labels_t s_labels(const char *text) {
    pdc_labels_t l;
    cr_assert_eq(pdc_labels_parse(text, &l, g_err, sizeof g_err), 0, "refused: %s", g_err);
    return l;
}

static pdc_selector_t s_selector(const char *text) {
    pdc_selector_t s;
    cr_assert_eq(pdc_selector_parse(text, &s, g_err, sizeof g_err), 0, "refused: %s", g_err);
    return s;
}

/* Whether the node labelled labels matches selector. */
static int s_match(const char *selector, const char *labels) {
    pdc_selector_t s = s_selector(selector);
    pdc_labels_t l = s_labels(labels);
    return pdc_selector_match(&s, &l);
}

/* err must contain every fragment (NULL-terminated). */
static void s_names(const char *what, const char *const *fragments) {
    for (const char *const *f = fragments; *f; f++)
        cr_assert_not_null(strstr(g_err, *f), "%s: error \"%s\" lacks \"%s\"", what, g_err, *f);
}

static void s_labels_refused(const char *text, const char *const *fragments) {
    pdc_labels_t l;
    g_err[0] = '\0';
    cr_assert_eq(pdc_labels_parse(text, &l, g_err, sizeof g_err), -1, "accepted '%s'", text);
    cr_assert_eq(l.n, 0, "'%s': refused but left %d labels", text, l.n);
    s_names(text, fragments);
}

static void s_selector_refused(const char *text, const char *const *fragments) {
    pdc_selector_t s;
    g_err[0] = '\0';
    cr_assert_eq(pdc_selector_parse(text, &s, g_err, sizeof g_err), -1, "accepted '%s'", text);
    cr_assert_eq(s.n, 0, "'%s': refused but left %d terms", text, s.n);
    s_names(text, fragments);
}

#define REFUSED(fn, text, ...) fn(text, (const char *const[]){__VA_ARGS__, NULL})

/* ---- Labels ------------------------------------------------------------- */

Test(labels, parse_key_value_pairs) {
    pdc_labels_t l = s_labels("tier=edge,zone=a");
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(pdc_labels_get(&l, "tier"), "edge");
    cr_assert_str_eq(pdc_labels_get(&l, "zone"), "a");
    cr_assert_null(pdc_labels_get(&l, "gpu"));
}

Test(labels, null_empty_and_blank_are_no_labels) {
    cr_assert_eq(s_labels(NULL).n, 0);
    cr_assert_eq(s_labels("").n, 0);
    cr_assert_eq(s_labels("  ").n, 0);
}

Test(labels, keys_and_values_take_letters_digits_and_underscore_dash_dot_slash) {
    pdc_labels_t l = s_labels("ray.io/node-type=head_1.b-2/x");
    cr_assert_str_eq(pdc_labels_get(&l, "ray.io/node-type"), "head_1.b-2/x");
}

Test(labels, spaces_around_entries_and_equals_are_ignored) {
    pdc_labels_t l = s_labels(" tier = edge , zone=a ");
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(pdc_labels_get(&l, "tier"), "edge");
    cr_assert_str_eq(pdc_labels_get(&l, "zone"), "a");
}

Test(labels, keys_and_values_of_63_characters_are_the_longest) {
    char text[200];
    snprintf(text, sizeof text, "%063d=%063d", 1, 2);
    cr_assert_eq(s_labels(text).n, 1);
    snprintf(text, sizeof text, "%064d=v", 1);
    REFUSED(s_labels_refused, text, "key longer than 63");
    snprintf(text, sizeof text, "k=%064d", 2);
    REFUSED(s_labels_refused, text, "value longer than 63");
}

Test(labels, sixteen_labels_fit_and_the_seventeenth_is_named) {
    char text[512] = "";
    for (int i = 0; i < PDC_MAX_LABELS; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%sk%d=v", i ? "," : "", i);
    cr_assert_eq(s_labels(text).n, PDC_MAX_LABELS);
    strcat(text, ",k16=v");
    REFUSED(s_labels_refused, text, "'k16=v'", "more than 16 labels");
}

Test(labels, a_duplicate_key_is_refused_by_name) {
    REFUSED(s_labels_refused, "tier=edge,zone=a,tier=cloud", "'tier=cloud'",
            "duplicate key 'tier'");
}

Test(labels, an_empty_key_or_value_is_refused) {
    REFUSED(s_labels_refused, "zone=a,=edge", "'=edge'", "empty key");
    REFUSED(s_labels_refused, "tier=", "'tier='", "empty value");
}

Test(labels, a_missing_equals_is_refused) {
    REFUSED(s_labels_refused, "tier=edge,spot", "'spot'", "no '='");
}

Test(labels, bad_characters_are_refused_by_name) {
    REFUSED(s_labels_refused, "ti*er=edge", "'ti*er=edge'", "bad character '*' in key");
    REFUSED(s_labels_refused, "tier=ed ge", "'tier=ed ge'", "bad character ' ' in value");
    REFUSED(s_labels_refused, "tier=edge=x", "'tier=edge=x'", "bad character '=' in value");
    REFUSED(s_labels_refused, "ti er=edge", "'ti er=edge'", "bad character ' ' in key");
    REFUSED(s_labels_refused, "tier!=edge", "bad character '!' in key");
    REFUSED(s_labels_refused, "tier=\xc3\xa9t\xc3\xa9", "bad character 0xc3 in value");
}

Test(labels, a_stray_comma_is_refused) {
    REFUSED(s_labels_refused, "tier=edge,", "'tier=edge,'", "stray ','");
    REFUSED(s_labels_refused, "tier=edge,,zone=a", "stray ','");
    REFUSED(s_labels_refused, ",tier=edge", "stray ','");
}

Test(labels, errors_name_the_whole_text_and_fit_any_buffer) {
    REFUSED(s_labels_refused, "zone=a,=edge", "labels 'zone=a,=edge'");
    pdc_labels_t l;
    char tiny[8];
    cr_assert_eq(pdc_labels_parse("=x", &l, tiny, sizeof tiny), -1);
    cr_assert_eq(strlen(tiny), sizeof tiny - 1);
    cr_assert_eq(pdc_labels_parse("=x", &l, NULL, 0), -1);
}

Test(labels, format_sorts_the_keys) {
    pdc_labels_t l = s_labels("zone=a,tier=edge,gpu-type=a100");
    cr_assert_str_eq(pdc_labels_format(&l, g_buf, sizeof g_buf), "gpu-type=a100,tier=edge,zone=a");
    l = s_labels("");
    cr_assert_str_eq(pdc_labels_format(&l, g_buf, sizeof g_buf), "");
}

Test(labels, format_cuts_short_into_a_small_buffer) {
    pdc_labels_t l = s_labels("zone=a,tier=edge");
    char small[8];
    cr_assert_str_eq(pdc_labels_format(&l, small, sizeof small), "tier=ed");
}

/* ---- Selectors ---------------------------------------------------------- */

Test(selector, equal_needs_the_key_with_that_value) {
    cr_assert(s_match("tier=edge", "tier=edge,zone=a"));
    cr_assert(!s_match("tier=edge", "tier=cloud"));
    cr_assert(!s_match("tier=edge", "zone=a"));
    cr_assert(s_match("tier==edge", "tier=edge"));
}

Test(selector, not_equal_holds_for_another_value_or_no_key) {
    cr_assert(s_match("zone!=b", "zone=a"));
    cr_assert(s_match("zone!=b", "tier=edge"));
    cr_assert(s_match("zone!=b", ""));
    cr_assert(!s_match("zone!=b", "zone=b"));
}

Test(selector, in_needs_the_key_with_one_of_the_values) {
    cr_assert(s_match("gpu-type in (a100|h100)", "gpu-type=a100"));
    cr_assert(s_match("gpu-type in (a100|h100)", "gpu-type=h100"));
    cr_assert(!s_match("gpu-type in (a100|h100)", "gpu-type=v100"));
    cr_assert(!s_match("gpu-type in (a100|h100)", "tier=edge"));
    cr_assert(s_match("gpu-type in (a100)", "gpu-type=a100"));
}

Test(selector, a_bare_key_needs_the_key_with_any_value) {
    cr_assert(s_match("spot", "spot=yes"));
    cr_assert(s_match("spot", "spot=no"));
    cr_assert(!s_match("spot", "tier=edge"));
}

Test(selector, bang_key_needs_the_key_absent) {
    cr_assert(s_match("!spot", "tier=edge"));
    cr_assert(s_match("!spot", ""));
    cr_assert(!s_match("!spot", "spot=no"));
}

Test(selector, every_term_must_hold) {
    const char *sel = "tier=edge,zone!=b,gpu-type in (a100|h100),!spot";
    cr_assert(s_match(sel, "tier=edge,zone=a,gpu-type=h100"));
    cr_assert(s_match(sel, "tier=edge,gpu-type=a100"));
    cr_assert(!s_match(sel, "tier=cloud,zone=a,gpu-type=h100"));
    cr_assert(!s_match(sel, "tier=edge,zone=b,gpu-type=h100"));
    cr_assert(!s_match(sel, "tier=edge,zone=a,gpu-type=t4"));
    cr_assert(!s_match(sel, "tier=edge,zone=a,gpu-type=h100,spot=yes"));
}

Test(selector, the_empty_selector_matches_every_node) {
    cr_assert(s_match(NULL, "tier=edge"));
    cr_assert(s_match("", ""));
    cr_assert(s_match(" ", "spot=yes"));
}

Test(selector, parse_keeps_each_term) {
    pdc_selector_t s = s_selector("tier=edge,zone!=b,gpu-type in (a100|h100),!spot,ssd");
    cr_assert_eq(s.n, 5);
    cr_assert_eq(s.term[0].op, PDC_SEL_EQ);
    cr_assert_str_eq(s.term[0].key, "tier");
    cr_assert_str_eq(s.term[0].value[0], "edge");
    cr_assert_eq(s.term[1].op, PDC_SEL_NE);
    cr_assert_str_eq(s.term[1].value[0], "b");
    cr_assert_eq(s.term[2].op, PDC_SEL_IN);
    cr_assert_eq(s.term[2].nvalues, 2);
    cr_assert_str_eq(s.term[2].value[1], "h100");
    cr_assert_eq(s.term[3].op, PDC_SEL_ABSENT);
    cr_assert_str_eq(s.term[3].key, "spot");
    cr_assert_eq(s.term[4].op, PDC_SEL_PRESENT);
    cr_assert_eq(s.term[4].nvalues, 0);
}

Test(selector, spaces_between_parts_are_ignored) {
    const char *sel = " tier = edge , zone != b , gpu-type in ( a100 | h100 ) , ! spot ";
    pdc_selector_t s = s_selector(sel);
    cr_assert_str_eq(pdc_selector_format(&s, g_buf, sizeof g_buf),
                     "tier=edge,zone!=b,gpu-type in (a100|h100),!spot");
    cr_assert(s_match("gpu-type in(a100|h100)", "gpu-type=a100"));
}

Test(selector, format_reads_back_as_the_same_selector) {
    const char *sel = "tier=edge,zone!=b,gpu-type in (a100|h100),!spot,ssd";
    pdc_selector_t s = s_selector(sel);
    cr_assert_str_eq(pdc_selector_format(&s, g_buf, sizeof g_buf), sel);
    pdc_selector_t again = s_selector(g_buf);
    cr_assert_eq(memcmp(&s, &again, sizeof s), 0);
}

Test(selector, a_term_without_a_value_is_refused) {
    REFUSED(s_selector_refused, "tier=", "'tier='", "empty value");
    REFUSED(s_selector_refused, "zone!=", "'zone!='", "empty value");
    REFUSED(s_selector_refused, "=edge", "'=edge'", "empty key");
    REFUSED(s_selector_refused, "!", "'!'", "empty key");
}

Test(selector, a_bad_in_list_is_refused_by_what_is_wrong) {
    REFUSED(s_selector_refused, "gpu in a100", "'gpu in a100'", "needs a list");
    REFUSED(s_selector_refused, "gpu in (a100", "'gpu in (a100'", "missing ')'");
    REFUSED(s_selector_refused, "tier=edge,gpu in (a100,h100)", "'gpu in (a100,h100)'",
            "separated by '|'");
    REFUSED(s_selector_refused, "gpu in ()", "'gpu in ()'", "empty value");
    REFUSED(s_selector_refused, "gpu in (a|)", "empty value");
    REFUSED(s_selector_refused, "gpu in (a) b", "'gpu in (a) b'", "unexpected 'b' after ')'");
    REFUSED(s_selector_refused, "gpu in (a|b*)", "bad character '*' in value");
}

Test(selector, an_unknown_operator_is_refused) {
    REFUSED(s_selector_refused, "tier<edge", "'tier<edge'", "bad character '<' in key");
    REFUSED(s_selector_refused, "tier im (a)", "'tier im (a)'", "expected =, != or in");
    REFUSED(s_selector_refused, "tier=ed*ge", "bad character '*' in value");
    REFUSED(s_selector_refused, "!spot=yes", "'!spot=yes'", "takes no value");
}

Test(selector, too_many_terms_or_values_are_refused) {
    char text[512] = "";
    for (int i = 0; i < PDC_MAX_SELECTOR_TERMS; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%sk%d", i ? "," : "", i);
    cr_assert_eq(s_selector(text).n, PDC_MAX_SELECTOR_TERMS);
    strcat(text, ",k16");
    REFUSED(s_selector_refused, text, "'k16'", "more than 16 terms");
    cr_assert_eq(s_selector("k in (a|b|c|d|e|f|g|h)").term[0].nvalues, PDC_MAX_SELECTOR_VALUES);
    REFUSED(s_selector_refused, "k in (a|b|c|d|e|f|g|h|i)", "more than 8 values");
}

Test(selector, a_stray_comma_is_refused) {
    REFUSED(s_selector_refused, "tier=edge,", "selector 'tier=edge,'", "stray ','");
}

/* ---- Mismatch texts ----------------------------------------------------- */

/* The mismatch text for selector against labels (NULL if they match). */
static const char *s_mismatch(const char *selector, const char *labels) {
    pdc_selector_t s = s_selector(selector);
    pdc_labels_t l = s_labels(labels);
    return pdc_selector_mismatch(&s, &l, g_buf, sizeof g_buf);
}

Test(mismatch, is_null_when_the_node_matches) {
    cr_assert_null(s_mismatch("tier=edge,!spot", "tier=edge"));
    cr_assert_null(s_mismatch("", "tier=edge"));
}

Test(mismatch, names_the_term_and_the_value_the_node_has) {
    cr_assert_str_eq(s_mismatch("tier=edge", "tier=cloud"), "tier=edge (node has tier=cloud)");
    cr_assert_str_eq(s_mismatch("zone!=b", "zone=b"), "zone!=b (node has zone=b)");
    cr_assert_str_eq(s_mismatch("gpu-type in (a100|h100)", "gpu-type=t4"),
                     "gpu-type in (a100|h100) (node has gpu-type=t4)");
    cr_assert_str_eq(s_mismatch("!spot", "spot=yes"), "!spot (node has spot=yes)");
}

Test(mismatch, says_when_the_node_lacks_the_key) {
    cr_assert_str_eq(s_mismatch("tier=edge", "zone=a"), "tier=edge (node has no tier)");
    cr_assert_str_eq(s_mismatch("gpu-type in (a100)", ""),
                     "gpu-type in (a100) (node has no gpu-type)");
    cr_assert_str_eq(s_mismatch("spot", "tier=edge"), "spot (node has no spot)");
}

Test(mismatch, names_the_first_term_that_fails) {
    cr_assert_str_eq(s_mismatch("tier=edge,zone=a,!spot", "tier=edge,zone=b,spot=yes"),
                     "zone=a (node has zone=b)");
}

Test(mismatch, fits_a_small_buffer) {
    pdc_selector_t s = s_selector("tier=edge");
    pdc_labels_t l = s_labels("tier=cloud");
    char small[12];
    cr_assert_str_eq(pdc_selector_mismatch(&s, &l, small, sizeof small), "tier=edge (");
}

/* ---- GPU detection ------------------------------------------------------ */

Test(gpu, no_gpu_here_comes_with_a_reason) {
    unsetenv("CUDA_VISIBLE_DEVICES");
    char why[256] = "unset";
    int n = pdc_gpu_count(why, sizeof why);
    if (n > 0)
        cr_skip_test("this host has %d CUDA device(s)", n);
    cr_assert_eq(n, 0);
    cr_assert_neq(why[0], '\0', "no GPU and no reason");
    cr_assert_str_neq(why, "unset");
    cr_log_info("pdc_gpu_count: 0: %s", why);
}

Test(gpu, asking_twice_gives_the_same_answer) {
    unsetenv("CUDA_VISIBLE_DEVICES");
    char a[256], b[256];
    int n = pdc_gpu_count(a, sizeof a);
    cr_assert_eq(pdc_gpu_count(b, sizeof b), n);
    cr_assert_str_eq(a, b);
    cr_assert_eq(pdc_gpu_count(NULL, 0), n);
}

Test(gpu, empty_or_minus_one_cuda_visible_devices_hides_every_gpu) {
    const char *hidden[] = {"", "-1"};
    for (int i = 0; i < 2; i++) {
        setenv("CUDA_VISIBLE_DEVICES", hidden[i], 1);
        char why[256] = "";
        cr_assert_eq(pdc_gpu_count(why, sizeof why), 0, "CUDA_VISIBLE_DEVICES='%s'", hidden[i]);
        cr_assert_not_null(strstr(why, "CUDA_VISIBLE_DEVICES"), "reason \"%s\"", why);
    }
    unsetenv("CUDA_VISIBLE_DEVICES");
}
