/* `enclaveml model hash` and `enclaveml model export-vk`: the model's commitment identity.
 * (Wired into `enclaveml model` by cmd_model.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

/* argv[0] = "hash", argv[1] = FILE.eml. Prints the 64-hex-digit model hash. */
int cli_model_hash(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail("usage: enclaveml model hash FILE.eml");
    em_err err = {0};
    nn_model *m = NULL;
    zk_prover *p = NULL;
    int rc = 1;
    if (nn_model_load(argv[1], &m, &err) != EM_OK) {
        rc = cli_fail_err(argv[1], &err);
        goto out;
    }
    if (zk_prover_create(m, &p, &err) != EM_OK) {
        rc = cli_fail_err("committing to the model", &err);
        goto out;
    }
    uint8_t h[EM_HASH_LEN];
    char hex[2 * EM_HASH_LEN + 1];
    zk_vk_model_hash(zk_prover_vk(p), h);
    em_hex_encode(h, EM_HASH_LEN, hex);
    printf("%s\n", hex);
    rc = 0;
out:
    zk_prover_free(p);
    nn_model_free(m);
    return rc;
}

/* argv[0] = "export-vk", then FILE.eml -o FILE.vk (either order). */
int cli_model_export_vk(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
            outp = argv[++i];
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else
            return cli_fail("usage: enclaveml model export-vk FILE.eml -o FILE.vk");
    }
    if (!in || !outp)
        return cli_fail("usage: enclaveml model export-vk FILE.eml -o FILE.vk");
    em_err err = {0};
    nn_model *m = NULL;
    zk_prover *p = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = 1;
    if (nn_model_load(in, &m, &err) != EM_OK) {
        rc = cli_fail_err(in, &err);
        goto out;
    }
    if (zk_prover_create(m, &p, &err) != EM_OK) {
        rc = cli_fail_err("committing to the model", &err);
        goto out;
    }
    if (zk_vk_serialize(zk_prover_vk(p), &bytes, &len, &err) != EM_OK ||
        em_file_write(outp, bytes, len, &err) != EM_OK) {
        rc = cli_fail_err(outp, &err);
        goto out;
    }
    uint8_t h[EM_HASH_LEN];
    char hex[2 * EM_HASH_LEN + 1];
    zk_vk_model_hash(zk_prover_vk(p), h);
    em_hex_encode(h, EM_HASH_LEN, hex);
    printf("wrote %s (%zu bytes), model hash %s\n", outp, len, hex);
    rc = 0;
out:
    free(bytes);
    zk_prover_free(p);
    nn_model_free(m);
    return rc;
}
