// Environments as a whole: one definition per environment, built for both engines, and its GitOps output.
export * from './environment';
export * from './gitops';
export * from './k3d';
