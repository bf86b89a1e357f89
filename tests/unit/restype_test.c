/* restype_test.c: table-driven tests of the resource-type registry and attribute validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "enc/json.h"
#include "model/restype.h"

#define C M2M_OP_CREATE
#define U M2M_OP_UPDATE
#define OK M2M_OK, RSC_NONE
#define BAD M2M_ERR_MALFORMED, RSC_BAD_REQUEST
#define NOTALLOWED M2M_ERR_DENIED, RSC_OPERATION_NOT_ALLOWED

struct vcase {
    int ty;
    enum m2m_op op;
    const char *json; /* the object inside the m2m:<sn> wrapper */
    m2m_rc rc;
    m2m_rsc rsc;
    const char *err_sub; /* substring the error message must contain (NULL: any) */
};

#define ACP_OK "\"pv\":{\"acr\":[]},\"pvs\":{\"acr\":[{\"acor\":[\"CAdmin\"],\"acop\":63}]}"
#define AE_OK "\"api\":\"Nmyapp\",\"rr\":true,\"srv\":[\"3\"]"
#define CSR_OK "\"cb\":\"//sp.example/cse2\",\"rr\":true,\"srv\":[\"3\"]"
#define GRP_OK "\"mnm\":10,\"mid\":[]"
#define SUB_OK "\"nu\":[\"http://127.0.0.1:9000/notify\"]"

static const struct vcase cases[] = {
    /* --- valid CREATE of each type with its mandatory attributes only --- */
    {TY_ACP, C, "{" ACP_OK "}", OK, NULL},
    {TY_AE, C, "{" AE_OK "}", OK, NULL},
    {TY_CNT, C, "{}", OK, NULL},
    {TY_CIN, C, "{\"con\":\"hello\"}", OK, NULL},
    {TY_GRP, C, "{" GRP_OK "}", OK, NULL},
    {TY_CSR, C, "{" CSR_OK "}", OK, NULL},
    {TY_ASAR, C, "{}", OK, NULL},
    {TY_SUB, C, "{" SUB_OK "}", OK, NULL},
    /* --- valid CREATE with every optional attribute --- */
    {TY_ACP, C,
     "{\"rn\":\"acp1\",\"et\":\"20991231T235959\",\"lbl\":[\"a\",\"k:v\"],\"at\":[\"/in-cse\"],"
     "\"aa\":[\"pv\"],\"adri\":[\"/x/d\"],\"apri\":[\"/x/p\"],\"airi\":[\"/x/i\"]," ACP_OK "}",
     OK, NULL},
    {TY_AE, C,
     "{\"rn\":\"ae1\",\"et\":\"20991231T235959,123456\",\"lbl\":[\"x\"],\"acpi\":[\"acp1\"],"
     "\"at\":[\"/a\"],\"aa\":[\"poa\"],\"daci\":[\"/d\"],\"apn\":\"my app\",\"poa\":"
     "[\"http://h:1/\"],\"or\":\"http://onto\",\"nl\":\"/n\",\"csz\":[\"json\"],\"esi\":{},"
     "\"mei\":\"ext\",\"srv\":[\"2a\",\"3\",\"4\"],\"api\":\"Rcom.example\",\"rr\":false}",
     OK, NULL},
    {TY_CNT, C,
     "{\"rn\":\"c.1_x-y\",\"et\":\"20991231T235959Z\",\"lbl\":[],\"acpi\":[\"a\"],\"at\":[],"
     "\"aa\":[],\"daci\":[],\"cr\":null,\"mni\":0,\"mbs\":9007199254740991,\"mia\":3600,"
     "\"or\":\"x\",\"disr\":true}",
     OK, NULL},
    {TY_CIN, C,
     "{\"rn\":\"ci\",\"et\":\"20991231T235959\",\"lbl\":[\"l\"],\"at\":[\"/a\"],\"aa\":[\"con\"],"
     "\"cr\":null,\"cnf\":\"application/senml+json:0:1\",\"or\":\"x\",\"con\":{\"v\":[1,2]}}",
     OK, NULL},
    {TY_CIN, C, "{\"con\":5}", OK, NULL},
    {TY_CIN, C, "{\"con\":[]}", OK, NULL},
    {TY_CIN, C, "{\"con\":false,\"cnf\":\"text/plain:2\"}", OK, NULL},
    {TY_GRP, C,
     "{\"rn\":\"g\",\"et\":\"20991231T235959\",\"lbl\":[\"g\"],\"acpi\":[\"a\"],\"at\":[],"
     "\"aa\":[],\"daci\":[],\"cr\":null,\"mt\":0,\"mnm\":1,\"mid\":[\"/in/ae1\"],"
     "\"macp\":[\"acp2\"],\"csy\":3,\"gn\":\"\"}",
     OK, NULL},
    {TY_CSR, C,
     "{\"rn\":\"cse2\",\"et\":\"20991231T235959\",\"lbl\":[\"c\"],\"acpi\":[\"a\"],\"at\":[],"
     "\"aa\":[],\"daci\":[],\"cst\":2,\"poa\":[\"https://h\"],\"csi\":\"/cse2\",\"mei\":\"m\","
     "\"nl\":\"/n\",\"csz\":[\"json\"],\"esi\":{},\"dcse\":[\"/c3\"]," CSR_OK "}",
     OK, NULL},
    {TY_ASAR, C,
     "{\"rn\":\"r1\",\"et\":\"20991231T235959\",\"lbl\":[\"x\"],\"acpi\":[\"a\"],\"daci\":[],"
     "\"apci\":[\"*\"],\"aai\":[\"Nx*\"],\"aae\":[\"C*\",\"S*\"],\"ari\":[]}",
     OK, NULL},
    {TY_SUB, C,
     "{\"rn\":\"s\",\"et\":\"20991231T235959\",\"lbl\":[\"x\"],\"acpi\":[\"a\"],\"daci\":[],"
     "\"cr\":null,\"enc\":{\"net\":[1,8],\"atr\":[\"lbl\"]},\"exc\":1,\"gpi\":\"/g\","
     "\"nfu\":\"/f\",\"bn\":{\"num\":2},\"rl\":{},\"psn\":1,\"pn\":2,\"nsp\":1,\"ln\":true,"
     "\"nct\":4,\"nec\":999,\"su\":\"/ae1\"," SUB_OK "}",
     OK, NULL},

    /* --- attributes the CSE sets: NP on CREATE --- */
    {TY_AE, C, "{" AE_OK ",\"ty\":2}", BAD, "'ty' is not permitted"},
    {TY_AE, C, "{" AE_OK ",\"ri\":\"x\"}", BAD, "'ri'"},
    {TY_AE, C, "{" AE_OK ",\"pi\":\"x\"}", BAD, "'pi'"},
    {TY_AE, C, "{" AE_OK ",\"ct\":\"20200101T000000\"}", BAD, "'ct'"},
    {TY_AE, C, "{" AE_OK ",\"lt\":\"20200101T000000\"}", BAD, "'lt'"},
    {TY_AE, C, "{" AE_OK ",\"aei\":\"Cx\"}", BAD, "'aei'"},
    {TY_CNT, C, "{\"cni\":0}", BAD, "'cni'"},
    {TY_CNT, C, "{\"cbs\":0}", BAD, "'cbs'"},
    {TY_CNT, C, "{\"st\":0}", BAD, "'st'"},
    {TY_CNT, C, "{\"li\":\"x\"}", BAD, "'li'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cs\":1}", BAD, "'cs'"},
    {TY_CIN, C, "{\"con\":\"x\",\"st\":1}", BAD, "'st'"},
    {TY_GRP, C, "{" GRP_OK ",\"cnm\":0}", BAD, "'cnm'"},
    {TY_GRP, C, "{" GRP_OK ",\"mtv\":true}", BAD, "'mtv'"},
    {TY_GRP, C, "{" GRP_OK ",\"ssi\":true}", BAD, "'ssi'"},
    {TY_SUB, C, "{" SUB_OK ",\"ty\":23}", BAD, "'ty'"},
    {TY_ACP, C, "{" ACP_OK ",\"ri\":\"x\"}", BAD, "'ri'"},
    {TY_CSR, C, "{" CSR_OK ",\"ct\":\"20200101T000000\"}", BAD, "'ct'"},
    {TY_ASAR, C, "{\"pi\":\"x\"}", BAD, "'pi'"},
    /* --- NP on UPDATE --- */
    {TY_AE, U, "{\"rn\":\"x\"}", BAD, "'rn' is not permitted in UPDATE"},
    {TY_AE, U, "{\"api\":\"Nx\"}", BAD, "'api'"},
    {TY_AE, U, "{\"aei\":\"x\"}", BAD, "'aei'"},
    {TY_CNT, U, "{\"cr\":null}", BAD, "'cr'"},
    {TY_CNT, U, "{\"cni\":1}", BAD, "'cni'"},
    {TY_GRP, U, "{\"mt\":3}", BAD, "'mt'"},
    {TY_GRP, U, "{\"csy\":1}", BAD, "'csy'"},
    {TY_CSR, U, "{\"cb\":\"/x\"}", BAD, "'cb'"},
    {TY_CSR, U, "{\"csi\":\"/x\"}", BAD, "'csi'"},
    {TY_CSR, U, "{\"cst\":1}", BAD, "'cst'"},
    {TY_SUB, U, "{\"psn\":1}", BAD, "'psn'"},
    {TY_SUB, U, "{\"su\":\"/x\"}", BAD, "'su'"},
    {TY_SUB, U, "{\"cr\":null}", BAD, "'cr'"},
    {TY_ACP, U, "{\"rn\":\"x\"}", BAD, "'rn'"},
    {TY_ASAR, U, "{\"rn\":\"x\"}", BAD, "'rn'"},

    /* --- mandatory attributes missing on CREATE --- */
    {TY_ACP, C, "{\"pvs\":{\"acr\":[{}]}}", BAD, "mandatory attribute 'pv'"},
    {TY_ACP, C, "{\"pv\":{\"acr\":[]}}", BAD, "mandatory attribute 'pvs'"},
    {TY_AE, C, "{\"rr\":true,\"srv\":[\"3\"]}", BAD, "mandatory attribute 'api'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"srv\":[\"3\"]}", BAD, "mandatory attribute 'rr'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true}", BAD, "mandatory attribute 'srv'"},
    {TY_CIN, C, "{\"cnf\":\"text/plain:0\"}", BAD, "mandatory attribute 'con'"},
    {TY_GRP, C, "{\"mid\":[]}", BAD, "mandatory attribute 'mnm'"},
    {TY_GRP, C, "{\"mnm\":3}", BAD, "mandatory attribute 'mid'"},
    {TY_CSR, C, "{\"rr\":true,\"srv\":[\"3\"]}", BAD, "mandatory attribute 'cb'"},
    {TY_CSR, C, "{\"cb\":\"/x\",\"srv\":[\"3\"]}", BAD, "mandatory attribute 'rr'"},
    {TY_CSR, C, "{\"cb\":\"/x\",\"rr\":true}", BAD, "mandatory attribute 'srv'"},
    {TY_SUB, C, "{}", BAD, "mandatory attribute 'nu'"},

    /* --- unknown attributes and attributes of other types --- */
    {TY_CNT, C, "{\"foo\":1}", BAD, "unknown attribute 'foo'"},
    {TY_CNT, C, "{\"m2m:cnt\":{}}", BAD, "unknown attribute 'm2m:cnt'"},
    {TY_CNT, C, "{\"a b\\n\":{}}", BAD, "unknown attribute 'a?b?'"},
    {TY_ACP, C, "{" ACP_OK ",\"acpi\":[\"x\"]}", BAD, "unknown attribute 'acpi'"},
    {TY_ACP, C, "{" ACP_OK ",\"daci\":[\"x\"]}", BAD, "unknown attribute 'daci'"},
    {TY_CIN, C, "{\"con\":1,\"acpi\":[\"x\"]}", BAD, "unknown attribute 'acpi'"},
    {TY_SUB, C, "{" SUB_OK ",\"at\":[\"/x\"]}", BAD, "unknown attribute 'at'"},
    {TY_AE, C, "{" AE_OK ",\"mni\":1}", BAD, "unknown attribute 'mni'"},
    {TY_CNT, C, "{\"RN\":\"x\"}", BAD, "unknown attribute 'RN'"},

    /* --- wrong JSON types --- */
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":\"true\",\"srv\":[\"3\"]}", BAD, "'rr' must be a boolean"},
    {TY_AE, C, "{\"api\":5,\"rr\":true,\"srv\":[\"3\"]}", BAD, "'api'"},
    {TY_AE, C, "{" AE_OK ",\"poa\":\"http://x\"}", BAD, "'poa' must be a list"},
    {TY_AE, C, "{" AE_OK ",\"poa\":[1]}", BAD, "'poa'"},
    {TY_AE, C, "{" AE_OK ",\"esi\":[]}", BAD, "'esi' must be an object"},
    {TY_AE, C, "{" AE_OK ",\"apn\":7}", BAD, "'apn' must be a string"},
    {TY_CNT, C, "{\"mni\":\"5\"}", BAD, "'mni'"},
    {TY_CNT, C, "{\"disr\":1}", BAD, "'disr'"},
    {TY_CNT, C, "{\"lbl\":\"a\"}", BAD, "'lbl' must be a list"},
    {TY_CNT, C, "{\"lbl\":[1]}", BAD, "'lbl'"},
    {TY_CNT, C, "{\"acpi\":\"acp1\"}", BAD, "'acpi'"},
    {TY_CNT, C, "{\"rn\":5}", BAD, "'rn'"},
    {TY_CNT, C, "{\"et\":20991231}", BAD, "'et'"},
    {TY_ACP, C, "{\"pv\":[],\"pvs\":{\"acr\":[{}]}}", BAD, "'pv' must be an object"},
    {TY_ACP, C, "{\"pv\":{},\"pvs\":{\"acr\":[{}]}}", BAD, "'pv' must hold an \"acr\" list"},
    {TY_ACP, C, "{\"pv\":{\"acr\":{}},\"pvs\":{\"acr\":[{}]}}", BAD, "'pv'"},
    {TY_SUB, C, "{\"nu\":\"http://x\"}", BAD, "'nu' must be a list"},
    {TY_SUB, C, "{" SUB_OK ",\"enc\":[]}", BAD, "'enc' must be an object"},
    {TY_SUB, C, "{" SUB_OK ",\"enc\":{\"net\":1}}", BAD, "'enc'"},
    {TY_SUB, C, "{" SUB_OK ",\"bn\":1}", BAD, "'bn'"},
    {TY_SUB, C, "{" SUB_OK ",\"ln\":\"true\"}", BAD, "'ln'"},
    {TY_GRP, C, "{\"mnm\":\"10\",\"mid\":[]}", BAD, "'mnm'"},
    {TY_GRP, C, "{\"mnm\":10,\"mid\":[\"\"]}", BAD, "'mid'"},
    {TY_GRP, C, "{\"mnm\":10,\"mid\":{}}", BAD, "'mid'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":0}", BAD, "'cnf'"},

    /* --- null handling --- */
    {TY_CIN, C, "{\"con\":null}", BAD, "'con' may not be null in CREATE"},
    {TY_CNT, C, "{\"lbl\":null}", BAD, "'lbl' may not be null in CREATE"},
    {TY_CNT, C, "{\"cr\":\"CAdmin\"}", BAD, "'cr' must be null"},
    {TY_CIN, C, "{\"con\":\"x\",\"cr\":\"CAdmin\"}", BAD, "'cr' must be null"},
    {TY_SUB, C, "{" SUB_OK ",\"cr\":\"x\"}", BAD, "'cr'"},
    {TY_GRP, C, "{" GRP_OK ",\"cr\":1}", BAD, "'cr'"},

    /* --- integer ranges --- */
    {TY_CNT, C, "{\"mni\":-1}", BAD, "'mni'"},
    {TY_CNT, C, "{\"mni\":1.5}", BAD, "'mni'"},
    {TY_CNT, C, "{\"mni\":1e19}", BAD, "'mni'"},
    {TY_CNT, C, "{\"mbs\":9007199254740992}", BAD, "'mbs'"},
    {TY_CNT, C, "{\"mia\":-0.5}", BAD, "'mia'"},
    {TY_CNT, C, "{\"mni\":1e400}", BAD, "'mni'"},
    {TY_CNT, C, "{\"mni\":2.0}", OK, NULL},
    {TY_SUB, C, "{" SUB_OK ",\"exc\":0}", BAD, "'exc'"},
    {TY_SUB, C, "{" SUB_OK ",\"nct\":0}", BAD, "'nct'"},
    {TY_SUB, C, "{" SUB_OK ",\"nct\":5}", BAD, "'nct'"},
    {TY_SUB, C, "{" SUB_OK ",\"nct\":1}", OK, NULL},
    {TY_SUB, C, "{" SUB_OK ",\"pn\":0}", BAD, "'pn'"},
    {TY_SUB, C, "{" SUB_OK ",\"pn\":3}", BAD, "'pn'"},
    {TY_SUB, C, "{" SUB_OK ",\"psn\":0}", BAD, "'psn'"},
    {TY_SUB, C, "{" SUB_OK ",\"nsp\":0}", BAD, "'nsp'"},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":1}", BAD, "'nec'"},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":5}", BAD, "'nec'"},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":99}", BAD, "'nec'"},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":1000}", BAD, "'nec'"},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":2}", OK, NULL},
    {TY_SUB, C, "{" SUB_OK ",\"nec\":100}", OK, NULL},
    {TY_SUB, C, "{" SUB_OK ",\"enc\":{\"net\":[0]}}", BAD, "'enc' net"},
    {TY_SUB, C, "{" SUB_OK ",\"enc\":{\"net\":[9]}}", BAD, "'enc'"},
    {TY_SUB, C, "{" SUB_OK ",\"enc\":{\"net\":[1,2,3,4,5,6,7,8,1]}}", BAD, "'enc'"},
    {TY_GRP, C, "{\"mnm\":0,\"mid\":[]}", BAD, "'mnm'"},
    {TY_GRP, C, "{" GRP_OK ",\"csy\":0}", BAD, "'csy'"},
    {TY_GRP, C, "{" GRP_OK ",\"csy\":4}", BAD, "'csy'"},
    {TY_GRP, C, "{" GRP_OK ",\"mt\":-1}", BAD, "'mt'"},
    {TY_GRP, C, "{" GRP_OK ",\"mt\":100000}", BAD, "'mt'"},
    {TY_GRP, C, "{" GRP_OK ",\"mt\":3}", OK, NULL},
    {TY_CSR, C, "{" CSR_OK ",\"cst\":0}", BAD, "'cst'"},
    {TY_CSR, C, "{" CSR_OK ",\"cst\":4}", BAD, "'cst'"},

    /* --- string formats --- */
    {TY_CNT, C, "{\"rn\":\"la\"}", BAD, "'rn' is reserved"},
    {TY_CNT, C, "{\"rn\":\"ol\"}", BAD, "'rn' is reserved"},
    {TY_AE, C, "{" AE_OK ",\"rn\":\"la\"}", BAD, "'rn' is reserved"},
    {TY_CNT, C, "{\"rn\":\"lat\"}", OK, NULL},
    {TY_CNT, C, "{\"rn\":\"\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"-x\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\".x\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"..\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"a/b\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"a~b\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"a b\"}", BAD, "'rn'"},
    {TY_CNT, C, "{\"rn\":\"\\u00e9t\\u00e9\"}", BAD, "'rn'"},
    {TY_AE, C, "{\"api\":\"Xabc\",\"rr\":true,\"srv\":[\"3\"]}", BAD, "'api' must start with"},
    {TY_AE, C, "{\"api\":\"nabc\",\"rr\":true,\"srv\":[\"3\"]}", BAD, "'api' must start with"},
    {TY_AE, C, "{\"api\":\"\",\"rr\":true,\"srv\":[\"3\"]}", BAD, "'api'"},
    {TY_AE, C, "{\"api\":\"rabc\",\"rr\":true,\"srv\":[\"3\"]}", OK, NULL},
    {TY_AE, C, "{\"api\":\"N a\",\"rr\":true,\"srv\":[\"3\"]}", BAD, "'api'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[]}", BAD, "'srv' has too few"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[3]}", BAD, "'srv'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[\"x\"]}", BAD, "'srv'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[\"3ab\"]}", BAD, "'srv'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[\"123\"]}", BAD, "'srv'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[\"\"]}", BAD, "'srv'"},
    {TY_AE, C, "{\"api\":\"Nx\",\"rr\":true,\"srv\":[\"10\",\"2a\"]}", OK, NULL},
    {TY_AE, C, "{" AE_OK ",\"apn\":\"a\\u0001b\"}", BAD, "'apn'"},
    {TY_AE, C, "{" AE_OK ",\"apn\":\"a\\u007fb\"}", BAD, "'apn'"},
    {TY_AE, C, "{" AE_OK ",\"apn\":\"tab\\there\"}", BAD, "'apn'"},
    {TY_AE, C, "{" AE_OK ",\"mei\":\"\"}", BAD, "'mei'"},
    {TY_AE, C, "{" AE_OK ",\"nl\":\"\"}", BAD, "'nl'"},
    {TY_AE, C, "{" AE_OK ",\"nl\":\"a b\"}", BAD, "'nl'"},
    {TY_CNT, C, "{\"et\":\"2099-12-31T23:59:59\"}", BAD, "'et'"},
    {TY_CNT, C, "{\"et\":\"20991331T235959\"}", BAD, "'et'"},
    {TY_CNT, C, "{\"et\":\"\"}", BAD, "'et'"},
    {TY_CNT, C, "{\"lbl\":[\"\"]}", BAD, "'lbl'"},
    {TY_CNT, C, "{\"lbl\":[\"a\\nb\"]}", BAD, "'lbl'"},
    {TY_CNT, C, "{\"lbl\":[\"key:value\",\"token\"]}", OK, NULL},
    {TY_CNT, C, "{\"acpi\":[]}", BAD, "'acpi' has too few"},
    {TY_CNT, C, "{\"acpi\":[\"\"]}", BAD, "'acpi'"},
    {TY_CNT, C, "{\"acpi\":[\"a b\"]}", BAD, "'acpi'"},
    {TY_CSR, C, "{" CSR_OK ",\"csi\":\"cse2\"}", BAD, "'csi'"},
    {TY_CSR, C, "{" CSR_OK ",\"csi\":\"/\"}", BAD, "'csi'"},
    {TY_CSR, C, "{" CSR_OK ",\"csi\":\"//sp/cse2\"}", BAD, "'csi'"},
    {TY_CSR, C, "{" CSR_OK ",\"csi\":\"/cse 2\"}", BAD, "'csi'"},
    {TY_CSR, C, "{\"cb\":\"\",\"rr\":true,\"srv\":[\"3\"]}", BAD, "'cb'"},
    {TY_SUB, C, "{\"nu\":[]}", BAD, "'nu' has too few"},
    {TY_SUB, C, "{\"nu\":[\"http://a b\"]}", BAD, "'nu'"},
    {TY_SUB, C, "{\"nu\":[\"\"]}", BAD, "'nu'"},
    {TY_ACP, C, "{\"pv\":{\"acr\":[]},\"pvs\":{\"acr\":[]}}", BAD, "'pvs' must hold at least"},
    {TY_ACP, C, "{" ACP_OK ",\"adri\":[]}", BAD, "'adri'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:0\"}", OK, NULL},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"application/json:1:5\"}", OK, NULL},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:3\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:0:6\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:0:\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text:0\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"/plain:0\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/:0\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"te xt/plain:0\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/pl;ain:0\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:00\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"x\",\"cnf\":\"text/plain:0:1:2\"}", BAD, "'cnf'"},
    {TY_CIN, C, "{\"con\":\"a\\u0001b\"}", OK, NULL}, /* con is opaque xs:anyType */

    /* --- UPDATE rules --- */
    {TY_AE, U, "{}", OK, NULL},
    {TY_AE, U, "{\"rr\":false,\"poa\":[\"http://h\"],\"srv\":[\"3\"]}", OK, NULL},
    {TY_AE, U, "{\"rr\":null}", BAD, "'rr' may not be null in UPDATE"},
    {TY_AE, U, "{\"srv\":null}", BAD, "'srv' may not be null"},
    {TY_AE, U, "{\"lbl\":null,\"et\":null,\"acpi\":null,\"poa\":null,\"apn\":null}", OK, NULL},
    {TY_AE, U, "{\"lbl\":[1]}", BAD, "'lbl'"},
    {TY_ACP, U, "{\"pvs\":null}", BAD, "'pvs' may not be null"},
    {TY_ACP, U, "{\"pv\":null}", BAD, "'pv' may not be null"},
    {TY_ACP, U, "{\"pvs\":{\"acr\":[]}}", BAD, "'pvs' must hold at least"},
    {TY_ACP, U, "{\"pv\":{\"acr\":[]}}", OK, NULL},
    {TY_ACP, U, "{\"adri\":null,\"lbl\":[\"x\"]}", OK, NULL},
    {TY_SUB, U, "{\"nu\":null}", BAD, "'nu' may not be null"},
    {TY_SUB, U, "{\"nu\":[\"/ae2\"],\"exc\":null,\"enc\":null}", OK, NULL},
    {TY_GRP, U, "{\"mnm\":null}", BAD, "'mnm' may not be null"},
    {TY_GRP, U, "{\"mid\":null}", BAD, "'mid' may not be null"},
    {TY_GRP, U, "{\"gn\":null,\"mid\":[\"/x\"],\"mnm\":5}", OK, NULL},
    {TY_CSR, U, "{\"rr\":null}", BAD, "'rr' may not be null"},
    {TY_CSR, U, "{\"poa\":[\"http://h\"],\"nl\":null}", OK, NULL},
    {TY_CNT, U, "{\"mni\":null,\"disr\":false}", OK, NULL},
    {TY_CNT, U, "{\"mni\":-1}", BAD, "'mni'"},
    {TY_ASAR, U, "{\"aai\":[\"N*\"],\"apci\":null}", OK, NULL},

    /* --- cin update and CSEBase are refused outright --- */
    {TY_CIN, U, "{}", NOTALLOWED, "cannot be updated"},
    {TY_CIN, U, "{\"lbl\":[\"x\"]}", NOTALLOWED, NULL},
    {TY_CSEBASE, C, "{}", NOTALLOWED, "CSEBase"},
    {TY_CSEBASE, U, "{\"lbl\":[\"x\"]}", NOTALLOWED, "CSEBase"},

    /* --- content shape and types --- */
    {TY_CNT, C, "[]", BAD, "must be a JSON object"},
    {TY_CNT, C, "\"x\"", BAD, "must be a JSON object"},
    {TY_CNT, U, "null", BAD, "must be a JSON object"},
    {99, C, "{}", BAD, "not supported"},
    {0, U, "{}", BAD, "not supported"},
    {TY_CNT + 10000, C, "{}", BAD, "not supported"},
};

static void run_case(size_t i, const struct vcase *c, int *failures)
{
    cJSON *j = NULL;
    m2m_rc prc = json_parse((const uint8_t *)c->json, strlen(c->json), 32, &j);
    if (prc != M2M_OK) {
        print_error("case %zu: test JSON does not parse: %s\n", i, c->json);
        (*failures)++;
        return;
    }
    m2m_rsc rsc = (m2m_rsc)-1;
    char err[256] = "";
    m2m_rc rc = restype_validate(c->ty, c->op, j, &rsc, err, sizeof err);
    bool ok = rc == c->rc && rsc == c->rsc;
    if (ok && c->rc != M2M_OK && (err[0] == '\0' || (c->err_sub && !strstr(err, c->err_sub))))
        ok = false;
    if (!ok) {
        print_error("case %zu (ty %d op %d) %s: rc %d rsc %d err \"%s\" (want rc %d rsc %d "
                    "\"%s\")\n",
                    i, c->ty, (int)c->op, c->json, (int)rc, (int)rsc, err, (int)c->rc, (int)c->rsc,
                    c->err_sub ? c->err_sub : "");
        (*failures)++;
    }
    cJSON_Delete(j);
}

static void test_validate_table(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < M2M_ARRAY_LEN(cases); i++)
        run_case(i, &cases[i], &failures);
    assert_int_equal(failures, 0);
}

/* Builds {"<name>": <value>} where value is produced by a printf format; caller frees. */
static cJSON *obj1(const char *name, cJSON *value)
{
    cJSON *o = cJSON_CreateObject();
    assert_non_null(o);
    cJSON_AddItemToObject(o, name, value);
    return o;
}

static char *rep(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static m2m_rc validate(int ty, enum m2m_op op, const cJSON *j, m2m_rsc *rsc)
{
    char err[200];
    return restype_validate(ty, op, j, rsc, err, sizeof err);
}

/* Length bounds of strings: apn 4096, lbl entry 256, rn 255, csi 256 with the slash. */
static void test_string_bounds(void **state)
{
    struct {
        int ty;
        const char *attr;
        bool list;
        size_t max;
        char prefix;
    } b[] = {
        {TY_AE, "apn", false, 4096, 'a'}, {TY_CNT, "lbl", true, 256, 'l'},
        {TY_CNT, "rn", false, 255, 'r'},  {TY_GRP, "gn", false, 4096, 'g'},
        {TY_CNT, "or", false, 4096, 'o'},
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(b); i++)
        for (size_t extra = 0; extra <= 1; extra++) {
            char *s = rep(b[i].prefix, b[i].max + extra);
            cJSON *v = cJSON_CreateString(s);
            if (b[i].list) {
                cJSON *a = cJSON_CreateArray();
                cJSON_AddItemToArray(a, v);
                v = a;
            }
            cJSON *o = obj1(b[i].attr, v);
            m2m_rsc rsc;
            m2m_rc rc = validate(b[i].ty, M2M_OP_UPDATE, o, &rsc);
            if (strcmp(b[i].attr, "rn") == 0) /* rn is NP on update: check it on create */
                rc = validate(b[i].ty, M2M_OP_CREATE, o, &rsc);
            assert_int_equal(rc, extra ? M2M_ERR_MALFORMED : M2M_OK);
            cJSON_Delete(o);
            free(s);
        }
    /* csi: "/" + 255 name characters is the longest accepted. */
    for (size_t extra = 0; extra <= 1; extra++) {
        char *s = rep('c', 256 + extra);
        s[0] = '/';
        cJSON *o = cJSON_Parse("{\"cb\":\"/x\",\"rr\":true,\"srv\":[\"3\"]}");
        cJSON_AddStringToObject(o, "csi", s);
        m2m_rsc rsc;
        assert_int_equal(validate(TY_CSR, M2M_OP_CREATE, o, &rsc),
                         extra ? M2M_ERR_MALFORMED : M2M_OK);
        cJSON_Delete(o);
        free(s);
    }
}

static cJSON *list_of(size_t n, const char *item)
{
    cJSON *a = cJSON_CreateArray();
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(item));
    return a;
}

/* Entry-count bounds of lists: lbl 1024, acpi 32, mid 10000, nu 1024. */
static void test_list_bounds(void **state)
{
    struct {
        int ty;
        const char *attr;
        size_t max;
    } b[] = {
        {TY_CNT, "lbl", 1024}, {TY_CNT, "acpi", 32}, {TY_GRP, "mid", 10000}, {TY_SUB, "nu", 1024},
        {TY_AE, "poa", 1024},  {TY_GRP, "macp", 32}, {TY_AE, "srv", 16},     {TY_ASAR, "aai", 1024},
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(b); i++)
        for (size_t extra = 0; extra <= 1; extra++) {
            const char *item = strcmp(b[i].attr, "srv") == 0 ? "3" : "x";
            cJSON *o = obj1(b[i].attr, list_of(b[i].max + extra, item));
            m2m_rsc rsc = RSC_NONE;
            m2m_rc rc = validate(b[i].ty, M2M_OP_UPDATE, o, &rsc);
            assert_int_equal(rc, extra ? M2M_ERR_MALFORMED : M2M_OK);
            assert_int_equal(rsc, extra ? RSC_BAD_REQUEST : RSC_NONE);
            cJSON_Delete(o);
        }
}

/* A tree built by code (not json_parse) can repeat a member name: refused. */
static void test_duplicate_member(void **state)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "mni", cJSON_CreateNumber(1));
    cJSON_AddItemToObject(o, "mni", cJSON_CreateNumber(2));
    m2m_rsc rsc;
    char err[128];
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_CREATE, o, &rsc, err, sizeof err),
                     M2M_ERR_MALFORMED);
    assert_int_equal(rsc, RSC_BAD_REQUEST);
    assert_non_null(strstr(err, "duplicate attribute 'mni'"));
    cJSON_Delete(o);
}

/* NULL content, other operations, tiny or absent error buffers, NULL rsc. */
static void test_edge_arguments(void **state)
{
    m2m_rsc rsc;
    char err[8];
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_CREATE, NULL, &rsc, err, sizeof err),
                     M2M_ERR_MALFORMED);
    assert_int_equal(rsc, RSC_BAD_REQUEST);
    assert_int_equal(strlen(err), sizeof err - 1); /* truncated, terminated */
    cJSON *o = cJSON_CreateObject();
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_RETRIEVE, o, &rsc, NULL, 0), M2M_ERR_INTERNAL);
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_DELETE, o, &rsc, NULL, 0), M2M_ERR_INTERNAL);
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_CREATE, o, NULL, NULL, 0), M2M_OK);
    cJSON_AddItemToObject(o, "bogus", cJSON_CreateTrue());
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_CREATE, o, NULL, NULL, 0), M2M_ERR_MALFORMED);
    cJSON_Delete(o);
    /* A long unknown name is shortened in the message. */
    char *longname = rep('z', 300);
    o = obj1(longname, cJSON_CreateNull());
    char big[256];
    assert_int_equal(restype_validate(TY_CNT, M2M_OP_CREATE, o, &rsc, big, sizeof big),
                     M2M_ERR_MALFORMED);
    assert_non_null(strstr(big, "zzz..."));
    assert_true(strlen(big) < 100);
    cJSON_Delete(o);
    free(longname);
}

static void test_short_names(void **state)
{
    static const struct {
        int ty;
        const char *sn;
    } t[] = {{1, "acp"}, {2, "ae"},   {3, "cnt"},   {4, "cin"}, {5, "cb"},
             {9, "grp"}, {16, "csr"}, {19, "asar"}, {23, "sub"}};
    for (size_t i = 0; i < M2M_ARRAY_LEN(t); i++) {
        assert_string_equal(restype_short_name(t[i].ty), t[i].sn);
        assert_int_equal(restype_from_short_name(t[i].sn), t[i].ty);
        assert_true(restype_supported(t[i].ty));
    }
    static const int unsupported[] = {-1, 0, 6, 7, 8, 10, 13, 17, 28, 10002, 99999};
    for (size_t i = 0; i < M2M_ARRAY_LEN(unsupported); i++) {
        assert_null(restype_short_name(unsupported[i]));
        assert_false(restype_supported(unsupported[i]));
    }
    assert_int_equal(restype_from_short_name(NULL), 0);
    assert_int_equal(restype_from_short_name(""), 0);
    assert_int_equal(restype_from_short_name("m2m:ae"), 0);
    assert_int_equal(restype_from_short_name("AE"), 0);
    assert_int_equal(restype_from_short_name("aeA"), 0);
    assert_int_equal(restype_from_short_name("fcnt"), 0);
}

/* TS-0001 Table 9.6.1.1-1 restricted to our types: the full matrix. */
static void test_child_allowed(void **state)
{
    static const int tys[] = {TY_ACP, TY_AE,  TY_CNT,  TY_CIN, TY_CSEBASE,
                              TY_GRP, TY_CSR, TY_ASAR, TY_SUB};
    static const struct {
        int parent;
        const int children[8];
    } allowed[] = {
        {TY_CSEBASE, {TY_ACP, TY_AE, TY_CNT, TY_GRP, TY_CSR, TY_SUB, TY_ASAR}},
        {TY_AE, {TY_ACP, TY_CNT, TY_GRP, TY_SUB}},
        {TY_CNT, {TY_CNT, TY_CIN, TY_SUB}},
        {TY_CSR, {TY_ACP, TY_CNT, TY_GRP, TY_SUB}},
        {TY_GRP, {TY_SUB}},
        {TY_ACP, {TY_SUB}},
        {TY_CIN, {0}},
        {TY_SUB, {0}},
        {TY_ASAR, {0}},
    };
    int checked = 0;
    for (size_t p = 0; p < M2M_ARRAY_LEN(allowed); p++)
        for (size_t c = 0; c < M2M_ARRAY_LEN(tys); c++) {
            bool want = false;
            for (size_t k = 0; k < 8 && allowed[p].children[k] != 0; k++)
                want |= allowed[p].children[k] == tys[c];
            if (restype_child_allowed(allowed[p].parent, tys[c]) != want)
                print_error("parent %d child %d: want %d\n", allowed[p].parent, tys[c], want);
            assert_int_equal(restype_child_allowed(allowed[p].parent, tys[c]), want);
            checked++;
        }
    assert_int_equal(checked, 81);
    assert_false(restype_child_allowed(TY_CSEBASE, 28)); /* unsupported child */
    assert_false(restype_child_allowed(28, TY_CNT));     /* unsupported parent */
    assert_false(restype_child_allowed(TY_CSEBASE, 0));
    assert_false(restype_child_allowed(TY_CSEBASE, 31)); /* bit 31 of the mask */
    assert_false(restype_child_allowed(TY_CSEBASE, 40)); /* beyond the mask */
    assert_false(restype_child_allowed(TY_CSEBASE, -1));
}

static void test_has_acpi(void **state)
{
    assert_true(restype_has_acpi(TY_AE));
    assert_true(restype_has_acpi(TY_CNT));
    assert_true(restype_has_acpi(TY_CSEBASE));
    assert_true(restype_has_acpi(TY_GRP));
    assert_true(restype_has_acpi(TY_CSR));
    assert_true(restype_has_acpi(TY_SUB));
    assert_true(restype_has_acpi(TY_ASAR));
    assert_false(restype_has_acpi(TY_ACP));
    assert_false(restype_has_acpi(TY_CIN));
    assert_false(restype_has_acpi(0));
    assert_false(restype_has_acpi(28));
}

static void test_readonly(void **state)
{
    static const int tys[] = {TY_ACP, TY_AE,  TY_CNT,  TY_CIN, TY_CSEBASE,
                              TY_GRP, TY_CSR, TY_ASAR, TY_SUB};
    for (size_t i = 0; i < M2M_ARRAY_LEN(tys); i++) {
        assert_true(restype_attr_is_readonly(tys[i], "ri"));
        assert_true(restype_attr_is_readonly(tys[i], "pi"));
        assert_true(restype_attr_is_readonly(tys[i], "ct"));
        assert_true(restype_attr_is_readonly(tys[i], "lt"));
        assert_true(restype_attr_is_readonly(tys[i], "ty"));
        assert_false(restype_attr_is_readonly(tys[i], "nonexistent"));
        assert_false(restype_attr_is_readonly(tys[i], NULL));
    }
    assert_true(restype_attr_is_readonly(TY_AE, "aei"));
    assert_true(restype_attr_is_readonly(TY_CNT, "cni"));
    assert_true(restype_attr_is_readonly(TY_CNT, "cbs"));
    assert_true(restype_attr_is_readonly(TY_CNT, "st"));
    assert_true(restype_attr_is_readonly(TY_CIN, "cs"));
    assert_true(restype_attr_is_readonly(TY_CIN, "st"));
    assert_true(restype_attr_is_readonly(TY_GRP, "cnm"));
    assert_true(restype_attr_is_readonly(TY_GRP, "mtv"));
    assert_true(restype_attr_is_readonly(TY_CSEBASE, "csi"));
    assert_true(restype_attr_is_readonly(TY_CSEBASE, "acpi"));
    assert_true(restype_attr_is_readonly(TY_CSEBASE, "srt"));
    assert_false(restype_attr_is_readonly(TY_AE, "api")); /* M on create */
    assert_false(restype_attr_is_readonly(TY_AE, "rn"));  /* O on create */
    assert_false(restype_attr_is_readonly(TY_CNT, "cr"));
    assert_false(restype_attr_is_readonly(TY_CNT, "mni"));
    assert_false(restype_attr_is_readonly(TY_CIN, "con"));
    assert_true(restype_attr_is_readonly(99, "ri"));
    assert_false(restype_attr_is_readonly(99, "mni"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_table), cmocka_unit_test(test_string_bounds),
        cmocka_unit_test(test_list_bounds),    cmocka_unit_test(test_duplicate_member),
        cmocka_unit_test(test_edge_arguments), cmocka_unit_test(test_short_names),
        cmocka_unit_test(test_child_allowed),  cmocka_unit_test(test_has_acpi),
        cmocka_unit_test(test_readonly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
