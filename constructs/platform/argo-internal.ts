// Values the workflow engine and its controllers share; not part of the package's API (index.ts does not export them).

/** The uid Argo's images run as. */
export const ARGO_UID = 8737;
/** The name of the platform's controller's ConfigMap, which argo-server reads too. */
export const CONTROLLER_CONFIGMAP = 'workflow-controller-configmap';
