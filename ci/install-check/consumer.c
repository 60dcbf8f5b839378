/* Links against an installed libduct and moves one JSON message. */
#include <stdio.h>
#include <duct/duct.h>
#include <duct/json.h>

int main(void)
{
	duct *p, *c;
	void *v;
	if (duct_pair(&p, &c) != DUCT_OK)
		return 1;
	json_object *hello = json_object_new_string("h\xc3\xa9llo");
	int rc = duct_send_value(p, hello);
	if (rc == DUCT_OK)
		rc = duct_recv_value(c, &v);
	if (rc != DUCT_OK) {
		fprintf(stderr, "consumer: %s\n", duct_strerror(rc));
		return 1;
	}
	printf("installed libduct works: %s\n", json_object_get_string(v));
	json_object_put(v);
	json_object_put(hello);
	duct_free(p);
	duct_free(c);
	return 0;
}
