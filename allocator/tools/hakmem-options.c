/* hakmem-options - print the HAKMEM_* options table as markdown, from the
 * one options table in allocator/options.h (through hak_options_markdown).
 * docs/options.md carries this output verbatim below its generated-table
 * marker; CTest allocator.options_doc fails when the two disagree.
 *
 * usage: hakmem-options > table.md
 */
#include <hakmem.h>

int main(void) {
  hak_options_markdown(1);
  return 0;
}
