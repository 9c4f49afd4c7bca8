/** The bare workflows' activity: does nothing, so what remains is Temporal's own cost. */
export const bareActivities = {
  async noop(): Promise<null> {
    return null;
  },
};

export type BareActivities = typeof bareActivities;
