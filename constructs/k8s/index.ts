// Kubernetes building blocks every component uses: pod security, network policies, workloads, secrets,
// namespaces, labels, pinned images. They import only lib/.
export * from './admission';
export * from './images';
export * from './labels';
export * from './namespace';
export * from './network';
export * from './pod-security';
export * from './pod-settings';
export * from './secret';
export * from './output-checks';
