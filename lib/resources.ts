import { ContainerResources } from './environments';
import { Problems } from './errors';
import { Quantity, QuantityKind } from './quantity';

/**
 * Checks every quantity of a container's resources, each for its kind (cores for `cpu` and `cpuLimit`, bytes for
 * `memory` and `memoryLimit`), and that no limit is below its request (Kubernetes refuses such a pod).
 */
export function checkResources(problems: Problems, r: ContainerResources, path: string, field: string): void {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    problems.add({ path, field, value: r, message: 'is not an object with cpu, memory and memoryLimit', fix: 'give it like { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" }' });
    return;
  }
  const checked = (value: unknown, kind: QuantityKind, name: string): Quantity | undefined => {
    const problem = Quantity.check(value, kind, { path, field: `${field}.${name}` });
    problems.addIf(problem);
    return problem ? undefined : Quantity.tryParse(value);
  };
  const cpu = checked(r.cpu, QuantityKind.CPU, 'cpu');
  const memory = checked(r.memory, QuantityKind.BYTES, 'memory');
  const memoryLimit = checked(r.memoryLimit, QuantityKind.BYTES, 'memoryLimit');
  const cpuLimit = r.cpuLimit === undefined ? undefined : checked(r.cpuLimit, QuantityKind.CPU, 'cpuLimit');
  if (memory && memoryLimit && memoryLimit.value < memory.value) {
    problems.add({ path, field: `${field}.memoryLimit`, value: r.memoryLimit, message: `is below the memory request ${r.memory}`, fix: `raise the limit to at least the request: "${r.memory}"` });
  }
  if (cpu && cpuLimit && cpuLimit.value < cpu.value) {
    problems.add({ path, field: `${field}.cpuLimit`, value: r.cpuLimit, message: `is below the CPU request ${r.cpu}`, fix: `raise the limit to at least the request: "${r.cpu}"` });
  }
}
