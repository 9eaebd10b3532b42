/** Types of the `cluster-key-slot` package (the hash slot function ioredis itself uses; the package has none). */
declare module "cluster-key-slot" {
  /** The Redis Cluster hash slot (0–16383) of `key`, honouring a `{hash tag}`. */
  export default function calculateSlot(key: string | Buffer): number;
}
