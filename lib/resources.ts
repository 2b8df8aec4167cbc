import { ContainerResources } from './environments';
import { Problems } from './errors';
import { Quantity, QuantityKind } from './quantity';

/** Checks every quantity of a container's resources. */
export function checkResources(problems: Problems, r: ContainerResources, path: string, field: string): void {
  problems.addIf(Quantity.check(r.cpu, QuantityKind.CPU, { path, field: `${field}.cpu` }));
  problems.addIf(Quantity.check(r.memory, QuantityKind.BYTES, { path, field: `${field}.memory` }));
  problems.addIf(Quantity.check(r.memoryLimit, QuantityKind.BYTES, { path, field: `${field}.memoryLimit` }));
  if (r.cpuLimit !== undefined) problems.addIf(Quantity.check(r.cpuLimit, QuantityKind.CPU, { path, field: `${field}.cpuLimit` }));
  const req = Quantity.tryParse(r.memory);
  const lim = Quantity.tryParse(r.memoryLimit);
  if (req && lim && lim.value < req.value) {
    problems.add({ path, field: `${field}.memoryLimit`, value: r.memoryLimit, message: `is below the memory request ${r.memory}`, fix: 'raise the limit to at least the request' });
  }
}
