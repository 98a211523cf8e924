/**
 * The order `nix-store -qR` prints a closure in. Nix (2.8, and the same before and since) takes
 * the closure as a set ordered by `<hash>-<name>`, topologically sorts it with a depth-first
 * search that visits the set in that order and each path's references in that order too
 * (skipping self-references), appends a path once all its references are done, reverses the
 * result (referrers first), and then prints it backwards. What it prints is therefore the plain
 * post-order of that search: every path after everything it refers to, ties broken by hash.
 *
 * Store paths of one store share the directory prefix, so ordering full paths orders their
 * base names. A cycle, which Nix refuses to register, is broken at the edge that closes it.
 */
export function nixStoreOrder(
  paths: Iterable<string>,
  referencesOf: (path: string) => Iterable<string>,
): string[] {
  const items = [...new Set(paths)].sort(byBytes);
  const inSet = new Set(items);
  const visited = new Set<string>();
  const out: string[] = [];
  // Iterative DFS: closures can be chains thousands of paths deep.
  const stack: { path: string; children: string[]; next: number }[] = [];
  const enter = (path: string) => {
    visited.add(path);
    const children = [...new Set(referencesOf(path))]
      .filter((c) => c !== path && inSet.has(c))
      .sort(byBytes);
    stack.push({ path, children, next: 0 });
  };
  for (const item of items) {
    if (visited.has(item)) continue;
    enter(item);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.children.length) {
        const child = top.children[top.next++]!;
        if (!visited.has(child)) enter(child);
      } else {
        out.push(top.path);
        stack.pop();
      }
    }
  }
  return out;
}

/** Byte order for ASCII strings (store paths are ASCII), as std::string's operator<. */
export function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
